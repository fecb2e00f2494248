// search_bench: search latency of gallery indexes on synthetic embeddings.
//
// Usage:
//   search_bench [--gallery=17611] [--dim=512] [--queries=200]
//                [--ann_gallery=1000000] [--ann_index=IVF4096,PQ64]
//
// 1. Exact (Flat) inner-product search over a gallery of --gallery random
//    unit vectors: latency at batch 1 (median, p99) and per batch of 32.
// 2. An approximate index over --ann_gallery vectors drawn from a clustered
//    distribution (like real embeddings, unlike uniform noise): build time,
//    latency at batch 1 and 32, and recall@10 against exact search.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "absl/flags/flag.h"
#include "common/exit_code.h"
#include "index/gallery_index.h"
#include "index/synthetic_embeddings.h"

ABSL_FLAG(int64_t, gallery, 17611,
          "Images in the exact gallery (the competition's).");
ABSL_FLAG(int64_t, dim, 512, "Embedding size.");
ABSL_FLAG(int, queries, 200, "Timed queries per measurement.");
ABSL_FLAG(int64_t, ann_gallery, 1000000,
          "Images in the approximate gallery; 0 skips it.");
ABSL_FLAG(std::string, ann_index, "IVF4096,PQ64",
          "FAISS index_factory string.");
ABSL_FLAG(int, nprobe, 32, "IVF lists probed.");
ABSL_FLAG(int, ann_queries, 500, "Queries for the recall measurement.");

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void TimeSearch(const gallery::GalleryIndex& index,
                const std::vector<float>& queries, int64_t dim, int n,
                const char* label) {
  std::vector<double> single;
  for (int i = 0; i < n; ++i) {
    auto a = Clock::now();
    auto r = index.Search(queries.data() + (i % (queries.size() / dim)) * dim,
                          1, 10);
    single.push_back(Ms(a, Clock::now()));
    if (!r.ok()) std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
  }
  std::sort(single.begin(), single.end());
  const int batches = std::max(1, n / 32);
  auto a = Clock::now();
  for (int b = 0; b < batches; ++b) (void)index.Search(queries.data(), 32, 10);
  const double per_batch = Ms(a, Clock::now()) / batches;
  std::printf(
      "%s: batch 1 median %.2f ms, p99 %.2f ms; batch 32 %.2f ms per batch "
      "(%.3f ms per query)\n",
      label, single[single.size() / 2], single[single.size() * 99 / 100],
      per_batch, per_batch / 32);
}

}  // namespace

int main(int argc, char** argv) {
  common::ParseFlagsOrExit(
      argc, argv,
      "Search latency of gallery indexes on synthetic embeddings.\n"
      "  search_bench [--gallery=17611] [--dim=512] [--queries=200] "
      "[--ann_gallery=1000000] [--ann_index=IVF4096,PQ64]");
  const int64_t dim = absl::GetFlag(FLAGS_dim);
  const int nq = absl::GetFlag(FLAGS_queries);
  {
    const int64_t n = absl::GetFlag(FLAGS_gallery);
    std::vector<float> data = gallery::ClusteredUnitVectors(n, dim, 500, 1);
    std::vector<std::string> names(n, "x.jpg");
    std::vector<gallery::Category> cats(n, gallery::Category::kUnspecified);
    auto index = gallery::GalleryIndex::Build(data, dim, names, cats, {});
    if (!index.ok()) return common::kExitFailure;
    std::vector<float> queries = gallery::ClusteredUnitVectors(64, dim, 500, 2);
    char label[64];
    std::snprintf(label, sizeof(label), "Flat %lld x %lld",
                  static_cast<long long>(n), static_cast<long long>(dim));
    TimeSearch(**index, queries, dim, nq, label);
  }
  const int64_t big = absl::GetFlag(FLAGS_ann_gallery);
  if (big > 0) {
    std::vector<float> data = gallery::ClusteredUnitVectors(big, dim, 2000, 3);
    std::vector<std::string> names(big, "x.jpg");
    std::vector<gallery::Category> cats(big, gallery::Category::kUnspecified);
    gallery::BuildOptions opts;
    opts.factory = absl::GetFlag(FLAGS_ann_index);
    opts.nprobe = absl::GetFlag(FLAGS_nprobe);
    opts.max_training_rows = 200000;
    auto a = Clock::now();
    auto index = gallery::GalleryIndex::Build(data, dim, names, cats, opts);
    if (!index.ok()) {
      std::fprintf(stderr, "%s\n", index.status().ToString().c_str());
      return common::kExitFailure;
    }
    std::printf("%s over %lld x %lld: built in %.1f s\n", opts.factory.c_str(),
                static_cast<long long>(big), static_cast<long long>(dim),
                Ms(a, Clock::now()) / 1000);
    const int rq = absl::GetFlag(FLAGS_ann_queries);
    std::vector<float> queries =
        gallery::ClusteredUnitVectors(rq, dim, 2000, 4);
    // Queries drawn from the same centres as the gallery.
    {
      std::mt19937_64 rng(5);
      std::uniform_int_distribution<int64_t> pick(0, big - 1);
      std::normal_distribution<float> normal;
      for (int q = 0; q < rq; ++q) {
        const float* base = data.data() + pick(rng) * dim;
        for (int64_t j = 0; j < dim; ++j)
          queries[q * dim + j] =
              base[j] + 0.3f * normal(rng) / std::sqrt(static_cast<float>(dim));
        gallery::NormalizeRow(queries.data() + q * dim, dim);
      }
    }
    auto truth =
        gallery::BruteForceTopK(data.data(), big, queries.data(), rq, dim, 10);
    auto hits = (*index)->Search(queries.data(), rq, 10);
    if (!hits.ok()) return common::kExitFailure;
    std::printf("recall@10 vs exact (%d queries): %.4f\n", rq,
                gallery::RecallAtK(truth, *hits, 10));
    TimeSearch(**index, queries, dim, nq, opts.factory.c_str());
    // Exact search over the same million, for comparison.
    auto flat = gallery::GalleryIndex::Build(data, dim, names, cats, {});
    if (flat.ok())
      TimeSearch(**flat, queries, dim, std::min(nq, 20), "Flat (same gallery)");
  }
  return common::kExitOk;
}
