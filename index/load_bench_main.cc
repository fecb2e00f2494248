// load_bench: what loading a saved gallery index costs with and without
// mapping its inverted lists (GalleryIndex::Load, LoadOptions::mmap):
// resident memory (private and file-backed), load time and search latency.
//
// Usage:
//   load_bench --build --index=/tmp/g/index.faiss --names=/tmp/g/images.txt
//       [--n=1000000] [--dim=512] [--factory=IVF1024,SQ8] [--nprobe=16]
//   load_bench --index=/tmp/g/index.faiss --names=/tmp/g/images.txt
//       [--mmap=true] [--queries=500] [--hold_s=0]
//
// --build writes an index over --n clustered synthetic unit vectors.
// Otherwise the index is loaded and searched with --queries single queries
// (gallery rows); memory is printed before, after the load and after the
// searches, then the process sleeps --hold_s seconds (so that a second
// process can load the same files meanwhile) and prints its proportional
// set size (Pss: shared pages divided among the processes mapping them).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "common/exit_code.h"
#include "common/process_memory.h"
#include "index/gallery_index.h"
#include "index/synthetic_embeddings.h"

ABSL_FLAG(bool, build, false, "Build and save the index instead of loading.");
ABSL_FLAG(std::string, index, "", "The FAISS index file. Required.");
ABSL_FLAG(std::string, names, "", "The images.txt beside it. Required.");
ABSL_FLAG(int64_t, n, 1000000, "--build: gallery vectors.");
ABSL_FLAG(int64_t, dim, 512, "--build: embedding size.");
ABSL_FLAG(std::string, factory, "IVF1024,SQ8",
          "--build: FAISS index_factory string.");
ABSL_FLAG(int, nprobe, 16, "--build: IVF lists probed (stored in the index).");
ABSL_FLAG(bool, mmap, true, "Load with the inverted lists mapped.");
ABSL_FLAG(int, queries, 500, "Timed single queries after the load.");
ABSL_FLAG(double, hold_s, 0, "Seconds to sleep after the searches.");

namespace {

using Clock = std::chrono::steady_clock;

// Synthetic gallery shared by --build and the queries: clustered unit
// vectors; the queries are the gallery's first rows.
constexpr int kCenters = 2000;
constexpr uint64_t kSeed = 3;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double MiB(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

void PrintMemory(const char* when) {
  auto m = common::ReadProcessMemory();
  if (!m.ok()) {
    std::printf("%s: %s\n", when, m.status().ToString().c_str());
    return;
  }
  std::printf("%-22s RSS %8.1f MiB = anon %8.1f + file %8.1f + shmem %.1f\n",
              when, MiB(m->rss_bytes), MiB(m->anon_bytes), MiB(m->file_bytes),
              MiB(m->shmem_bytes));
}

// The Rss and Pss lines of /proc/self/smaps_rollup.
void PrintPss() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  std::string out;
  while (std::getline(in, line)) {
    for (const char* key : {"Rss:", "Pss:", "Pss_Anon:", "Pss_File:"}) {
      if (absl::StartsWith(line, key)) {
        line.erase(
            std::unique(line.begin(), line.end(),
                        [](char a, char b) { return a == ' ' && b == ' '; }),
            line.end());
        out += line + "; ";
      }
    }
  }
  std::printf("smaps_rollup: %s\n", out.c_str());
}

int Build() {
  const int64_t n = absl::GetFlag(FLAGS_n), dim = absl::GetFlag(FLAGS_dim);
  auto a = Clock::now();
  std::vector<float> data =
      gallery::ClusteredUnitVectors(n, dim, kCenters, kSeed);
  std::vector<std::string> names(n);
  for (int64_t i = 0; i < n; ++i) names[i] = "img" + std::to_string(i) + ".jpg";
  std::vector<gallery::Category> cats(n, gallery::Category::kUnspecified);
  gallery::BuildOptions opts;
  opts.factory = absl::GetFlag(FLAGS_factory);
  opts.nprobe = absl::GetFlag(FLAGS_nprobe);
  auto index = gallery::GalleryIndex::Build(data, dim, std::move(names),
                                            std::move(cats), opts);
  if (!index.ok()) {
    std::fprintf(stderr, "load_bench: %s\n", index.status().ToString().c_str());
    return common::kExitFailure;
  }
  absl::Status saved =
      (*index)->Save(absl::GetFlag(FLAGS_index), absl::GetFlag(FLAGS_names));
  if (!saved.ok()) {
    std::fprintf(stderr, "load_bench: %s\n", saved.ToString().c_str());
    return common::kExitFailure;
  }
  std::printf("%s over %lld x %lld built and saved in %.1f s\n",
              opts.factory.c_str(), static_cast<long long>(n),
              static_cast<long long>(dim), Ms(a, Clock::now()) / 1000);
  return common::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  common::ParseFlagsOrExit(
      argc, argv,
      "Memory, load time and search latency of a saved index, mapped or "
      "read.\n  load_bench [--build] --index=FILE --names=FILE [--mmap]");
  if (absl::GetFlag(FLAGS_index).empty() ||
      absl::GetFlag(FLAGS_names).empty()) {
    std::fprintf(stderr, "load_bench: --index and --names are required\n");
    return common::kExitUsage;
  }
  if (absl::GetFlag(FLAGS_build)) return Build();

  PrintMemory("before load");
  gallery::LoadOptions lopts;
  lopts.mmap = absl::GetFlag(FLAGS_mmap);
  auto a = Clock::now();
  auto index = gallery::GalleryIndex::Load(absl::GetFlag(FLAGS_index),
                                           absl::GetFlag(FLAGS_names), lopts);
  const double load_ms = Ms(a, Clock::now());
  if (!index.ok()) {
    std::fprintf(stderr, "load_bench: %s\n", index.status().ToString().c_str());
    return common::kExitFailure;
  }
  std::printf("loaded %lld x %lld (mmap=%d, %.1f MiB mapped) in %.1f ms\n",
              static_cast<long long>((*index)->size()),
              static_cast<long long>((*index)->dim()), lopts.mmap ? 1 : 0,
              MiB((*index)->mapped_bytes()), load_ms);
  PrintMemory("after load");

  const int nq = absl::GetFlag(FLAGS_queries);
  const int64_t dim = (*index)->dim();
  const int64_t rows = std::min<int64_t>(nq, (*index)->size());
  const std::vector<float> queries =
      gallery::ClusteredUnitVectors(rows, dim, kCenters, kSeed);
  std::vector<double> ms;
  for (int i = 0; i < nq; ++i) {
    auto t = Clock::now();
    auto hits = (*index)->Search(queries.data() + (i % rows) * dim, 1, 10);
    ms.push_back(Ms(t, Clock::now()));
    if (!hits.ok()) {
      std::fprintf(stderr, "load_bench: %s\n",
                   hits.status().ToString().c_str());
      return common::kExitFailure;
    }
  }
  if (!ms.empty()) {
    const double first = ms[0];
    std::sort(ms.begin(), ms.end());
    std::printf(
        "%d single queries: first %.2f ms, median %.2f ms, p99 %.2f ms\n", nq,
        first, ms[ms.size() / 2], ms[ms.size() * 99 / 100]);
  }
  PrintMemory("after queries");
  PrintPss();
  const double hold = absl::GetFlag(FLAGS_hold_s);
  if (hold > 0) {
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(hold));
    std::printf("after holding %.0f s: ", hold);
    PrintPss();
  }
  return common::kExitOk;
}
