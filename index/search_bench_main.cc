// search_bench: search latency, recall and memory of gallery indexes on
// synthetic embeddings, up to galleries that do not fit in memory as floats.
//
// Usage:
//   search_bench [--gallery=17611] [--dim=512] [--queries=200]
//                [--ann_gallery=1000000] [--dataset=lowrank|clustered]
//                [--ann_index='IVF4096_HNSW32,PQ64,Refine(SQ8);HNSW32']
//                [--nprobe=16,32,64,128] [--ef_search=32,64,128,256]
//                [--refine_factor=8] [--chunked]
//
// 1. Exact (Flat) search over --gallery clustered unit vectors (0 skips):
//    latency at batch 1 (median, p99) and per batch of 32.
// 2. For each index of --ann_index (';'-separated index_factory strings),
//    over --ann_gallery vectors of gallery::SyntheticGallery (--dataset):
//    build time (train + add), the index's serialised size and the
//    process's resident memory (VmRSS) before and after the build, and for
//    each search setting of the sweep (--nprobe for IVF types, --ef_search
//    for HNSW ones, times --refine_factor for refined ones) recall@10
//    against exact search, latency at batch 1 (p50, p99) and per batch of
//    32. Queries are --recall_queries points near random gallery rows (the
//    row plus noise of norm --query_noise), not gallery rows themselves.
//
// Exact ground truth is computed chunk by chunk (gallery::ExactTopK). By
// default the gallery is generated once and held, and indexes are built
// with GalleryIndex::Build as the exporter does; --chunked never holds it:
// the ground truth pass and GalleryIndex::BuildFromSource regenerate it
// --chunk_rows at a time (for 10M x 512, 20 GB as float32). Search runs
// through GalleryIndex::Search, the code the server runs.
//
// Lines starting with "RESULT" hold the figures as tab-separated key=value
// pairs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/exit_code.h"
#include "index/gallery_index.h"
#include "index/synthetic_embeddings.h"

ABSL_FLAG(int64_t, gallery, 17611,
          "Images in the exact gallery of part 1 (the competition's); 0 "
          "skips part 1.");
ABSL_FLAG(int64_t, dim, 512, "Embedding size.");
ABSL_FLAG(int, queries, 200, "Timed queries per measurement.");
ABSL_FLAG(int64_t, ann_gallery, 1000000,
          "Images in the approximate gallery; 0 skips part 2.");
ABSL_FLAG(std::string, dataset, "lowrank",
          "lowrank (low intrinsic dimension, like CLIP embeddings) or "
          "clustered (full-dimensional clusters, very hard); see "
          "index/synthetic_embeddings.h.");
ABSL_FLAG(std::string, ann_index, "IVF4096_HNSW32,PQ64,Refine(SQ8)",
          "';'-separated FAISS index_factory strings.");
ABSL_FLAG(std::string, nprobe, "16,32,64,128",
          "IVF lists probed: the sweep for IVF types.");
ABSL_FLAG(std::string, ef_search, "32,64,128,256",
          "HNSW efSearch: the sweep for HNSW types (IVF types with an HNSW "
          "coarse quantizer use max(128, 2 * nprobe)).");
ABSL_FLAG(std::string, refine_factor, "8",
          "Refined types: candidates re-scored per hit, swept.");
ABSL_FLAG(int, recall_queries, 300, "Queries for recall@10.");
ABSL_FLAG(double, query_noise, 0.3,
          "Norm of the noise added to a gallery row to make a query.");
ABSL_FLAG(int, exact_queries, 40,
          "Timed batch-1 queries for Flat in part 2 (each scans the "
          "gallery); --queries for the others.");
ABSL_FLAG(int64_t, train_rows, 100000, "Training rows for IVF/PQ types.");
ABSL_FLAG(int, kmeans_iterations, 0,
          "IVF k-means iterations; 0 keeps FAISS's default (25).");
ABSL_FLAG(bool, chunked, false,
          "Never hold the gallery: ground truth and index built from chunks "
          "generated again (needed for 10M x 512).");
ABSL_FLAG(int64_t, chunk_rows, 100000, "Rows per chunk.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the synthetic gallery.");
ABSL_FLAG(double, target_recall, 0.95,
          "Reports the fastest setting reaching this recall@10.");

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// VmRSS and VmHWM of this process, MiB.
std::pair<double, double> MemoryMiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  double rss = 0, hwm = 0;
  while (std::getline(in, line)) {
    long long kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %lld kB", &kb) == 1)
      rss = kb / 1024.0;
    if (std::sscanf(line.c_str(), "VmHWM: %lld kB", &kb) == 1)
      hwm = kb / 1024.0;
  }
  return {rss, hwm};
}

std::vector<int> IntList(const std::string& text) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int v = 0;
    if (absl::SimpleAtoi(part, &v) && v > 0) out.push_back(v);
  }
  return out;
}

struct Latency {
  double p50 = 0, p99 = 0, batch32 = 0;
};

Latency TimeSearch(const gallery::GalleryIndex& index,
                   const std::vector<float>& queries, int64_t dim, int n) {
  const int64_t nq = static_cast<int64_t>(queries.size()) / dim;
  std::vector<double> single;
  for (int i = 0; i < n; ++i) {
    auto a = Clock::now();
    auto r = index.Search(queries.data() + (i % nq) * dim, 1, 10);
    single.push_back(Ms(a, Clock::now()));
    if (!r.ok()) std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
  }
  std::sort(single.begin(), single.end());
  Latency out;
  out.p50 = single[single.size() / 2];
  out.p99 = single[std::min(single.size() - 1, single.size() * 99 / 100)];
  const int batches = std::max<int>(3, std::min<int64_t>(n / 32, nq / 32));
  auto a = Clock::now();
  for (int b = 0; b < batches; ++b) {
    (void)index.Search(
        queries.data() + (b * 32 % std::max<int64_t>(1, nq - 31)) * dim, 32,
        10);
  }
  out.batch32 = Ms(a, Clock::now()) / batches;
  return out;
}

void ExactSmallGallery(int64_t n, int64_t dim, int nq) {
  std::vector<float> data = gallery::ClusteredUnitVectors(n, dim, 500, 1);
  std::vector<std::string> names(n, "x.jpg");
  std::vector<gallery::Category> cats(n, gallery::Category::kUnspecified);
  auto index = gallery::GalleryIndex::Build(data, dim, names, cats, {});
  if (!index.ok()) return;
  std::vector<float> queries = gallery::ClusteredUnitVectors(64, dim, 500, 2);
  Latency l = TimeSearch(**index, queries, dim, nq);
  std::printf(
      "Flat %lld x %lld: batch 1 median %.2f ms, p99 %.2f ms; batch 32 %.2f "
      "ms per batch (%.3f ms per query)\n",
      static_cast<long long>(n), static_cast<long long>(dim), l.p50, l.p99,
      l.batch32, l.batch32 / 32);
  std::printf(
      "RESULT\tpart=exact\tn=%lld\tindex=Flat\trecall=1\tb1_p50_ms=%.3f\t"
      "b1_p99_ms=%.3f\tb32_batch_ms=%.3f\n",
      static_cast<long long>(n), l.p50, l.p99, l.batch32);
}

}  // namespace

int main(int argc, char** argv) {
  common::ParseFlagsOrExit(
      argc, argv,
      "Search latency, recall and memory of gallery indexes on synthetic "
      "embeddings.\n"
      "  search_bench [--gallery=17611] [--ann_gallery=1000000] "
      "[--dataset=lowrank|clustered] [--ann_index='F1;F2'] [--chunked]");
  const int64_t dim = absl::GetFlag(FLAGS_dim);
  const int nq = absl::GetFlag(FLAGS_queries);
  if (absl::GetFlag(FLAGS_gallery) > 0) {
    ExactSmallGallery(absl::GetFlag(FLAGS_gallery), dim, nq);
  }
  const int64_t n = absl::GetFlag(FLAGS_ann_gallery);
  if (n <= 0) return common::kExitOk;

  gallery::SyntheticOptions so;
  so.dim = dim;
  so.seed = absl::GetFlag(FLAGS_seed);
  const std::string dataset = absl::GetFlag(FLAGS_dataset);
  if (dataset == "clustered") {
    so.kind = gallery::SyntheticKind::kClustered;
  } else if (dataset != "lowrank") {
    std::fprintf(stderr, "--dataset: expected lowrank or clustered, got %s\n",
                 dataset.c_str());
    return common::kExitUsage;
  }
  const gallery::SyntheticGallery gen(so);
  const bool chunked = absl::GetFlag(FLAGS_chunked);
  const int64_t chunk = absl::GetFlag(FLAGS_chunk_rows);

  // Queries near random gallery rows.
  const int rq = absl::GetFlag(FLAGS_recall_queries);
  std::vector<float> queries(rq * dim);
  {
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<int64_t> pick(0, n - 1);
    for (int q = 0; q < rq; ++q) {
      gen.QueryNear(pick(rng),
                    static_cast<float>(absl::GetFlag(FLAGS_query_noise)), q,
                    queries.data() + q * dim);
    }
  }

  // The gallery (held unless --chunked) and the exact top 10.
  std::vector<float> data;
  auto a = Clock::now();
  gallery::ExactTopK exact(queries.data(), rq, dim, 10);
  if (chunked) {
    std::vector<float> buf(std::min(n, chunk) * dim);
    for (int64_t b = 0; b < n; b += chunk) {
      const int64_t e = std::min(n, b + chunk);
      gen.Rows(b, e, buf.data());
      exact.Add(buf.data(), e - b, b);
    }
  } else {
    data.resize(n * dim);
    gen.Rows(0, n, data.data());
    for (int64_t b = 0; b < n; b += chunk) {
      exact.Add(data.data() + b * dim, std::min(n, b + chunk) - b, b);
    }
  }
  const auto truth = exact.Ids();
  std::printf(
      "%s gallery %lld x %lld%s: generated with exact top 10 of %d "
      "queries in %.1f s\n",
      dataset.c_str(), static_cast<long long>(n), static_cast<long long>(dim),
      chunked ? " (chunked)" : "", rq, Ms(a, Clock::now()) / 1000);
  std::fflush(stdout);

  for (absl::string_view f :
       absl::StrSplit(absl::GetFlag(FLAGS_ann_index), ';', absl::SkipEmpty())) {
    gallery::BuildOptions opts;
    opts.factory = std::string(f);
    opts.max_training_rows = absl::GetFlag(FLAGS_train_rows);
    opts.kmeans_iterations = absl::GetFlag(FLAGS_kmeans_iterations);
    const auto [rss_before, hwm_before] = MemoryMiB();
    (void)hwm_before;
    double generate_ms = 0;
    a = Clock::now();
    absl::StatusOr<std::unique_ptr<gallery::GalleryIndex>> built;
    {
      std::vector<std::string> names(n, "x");
      std::vector<gallery::Category> cats(n, gallery::Category::kUnspecified);
      if (chunked) {
        built = gallery::GalleryIndex::BuildFromSource(
            n, dim,
            [&](int64_t b, int64_t e, float* out) {
              auto t = Clock::now();
              gen.Rows(b, e, out, e - b > 1 ? 2 : 1);
              generate_ms += Ms(t, Clock::now());
              return absl::OkStatus();
            },
            std::move(names), std::move(cats), opts, chunk);
      } else {
        built = gallery::GalleryIndex::Build(data, dim, std::move(names),
                                             std::move(cats), opts);
      }
    }
    if (!built.ok()) {
      std::fprintf(stderr, "%s\n", built.status().ToString().c_str());
      return common::kExitFailure;
    }
    gallery::GalleryIndex& index = **built;
    const double build_s = (Ms(a, Clock::now()) - generate_ms) / 1000;
    const auto [rss_after, hwm_after] = MemoryMiB();
    auto bytes = index.IndexBytes();
    const double index_mib = bytes.ok() ? *bytes / 1048576.0 : -1;
    std::printf(
        "%s over %lld: built in %.1f s (plus %.1f s generating rows); index "
        "%.0f MiB (%.1f bytes per vector); RSS %.0f -> %.0f MiB, peak %.0f "
        "MiB\n",
        opts.factory.c_str(), static_cast<long long>(n), build_s,
        generate_ms / 1000, index_mib, index_mib * 1048576.0 / n, rss_before,
        rss_after, hwm_after);
    std::fflush(stdout);

    const std::string& fs = opts.factory;
    const bool ivf = fs.find("IVF") != std::string::npos;
    const bool hnsw = fs.find("HNSW") != std::string::npos;
    const bool refined = fs.find("Refine") != std::string::npos ||
                         fs.find("RFlat") != std::string::npos;
    std::vector<gallery::SearchTuning> sweep;
    for (int rf : refined ? IntList(absl::GetFlag(FLAGS_refine_factor))
                          : std::vector<int>{0}) {
      if (ivf) {
        for (int p : IntList(absl::GetFlag(FLAGS_nprobe))) {
          sweep.push_back({p, hnsw ? std::max(128, 2 * p) : 0, rf});
        }
      } else if (hnsw) {
        for (int ef : IntList(absl::GetFlag(FLAGS_ef_search))) {
          sweep.push_back({0, ef, rf});
        }
      } else {
        sweep.push_back({0, 0, rf});
      }
    }
    const int timed = index.exact() ? absl::GetFlag(FLAGS_exact_queries) : nq;
    double best_b1 = -1;
    std::string best;
    for (const gallery::SearchTuning& t : sweep) {
      if (!index.SetSearchTuning(t).ok()) return common::kExitFailure;
      auto r0 = Clock::now();
      auto hits = index.Search(queries.data(), rq, 10);
      const double all_ms = Ms(r0, Clock::now());
      if (!hits.ok()) {
        std::fprintf(stderr, "%s\n", hits.status().ToString().c_str());
        return common::kExitFailure;
      }
      const double recall = gallery::RecallAtK(truth, *hits, 10);
      const Latency l = TimeSearch(index, queries, dim, timed);
      char setting[96];
      std::snprintf(setting, sizeof(setting), "nprobe=%d ef=%d rf=%d", t.nprobe,
                    t.ef_search, t.refine_factor);
      std::printf(
          "  %-28s recall@10 %.4f; batch 1 p50 %.3f ms, p99 %.3f ms; batch "
          "32 %.2f ms (%.3f ms per query); %d queries at once %.1f ms\n",
          setting, recall, l.p50, l.p99, l.batch32, l.batch32 / 32, rq, all_ms);
      std::printf(
          "RESULT\tpart=ann\tdataset=%s\tn=%lld\tindex=%s\tnprobe=%d\tef=%d\t"
          "rf=%d\trecall=%.4f\tb1_p50_ms=%.3f\tb1_p99_ms=%.3f\t"
          "b32_batch_ms=%.3f\tbuild_s=%.1f\tindex_mib=%.1f\trss_before_mib=%."
          "0f\trss_after_mib=%.0f\tpeak_mib=%.0f\n",
          dataset.c_str(), static_cast<long long>(n), fs.c_str(), t.nprobe,
          t.ef_search, t.refine_factor, recall, l.p50, l.p99, l.batch32,
          build_s, index_mib, rss_before, rss_after, hwm_after);
      std::fflush(stdout);
      if (recall >= absl::GetFlag(FLAGS_target_recall) &&
          (best_b1 < 0 || l.p50 < best_b1)) {
        best_b1 = l.p50;
        best = setting;
      }
    }
    std::printf("  fastest at recall@10 >= %.2f: %s\n",
                absl::GetFlag(FLAGS_target_recall),
                best.empty() ? "none" : best.c_str());
  }
  return common::kExitOk;
}
