// filter_bench: latency of attribute-filtered search at several
// selectivities, as the server runs it for a query with conditions: the
// rows whose recorded attributes match (rerank::GalleryAttributes::
// MatchingRows) and the search over them (gallery::GalleryIndex::
// SearchSelected), at batch 1.
//
// Usage:
//   filter_bench [--gallery=100000] [--dim=512] [--queries=300]
//                [--indexes=Flat,HNSW32]
//
// The gallery is --gallery clustered unit vectors, all vehicles. Vehicle
// colours are assigned so that colour class 0 covers 1% of the images,
// class 1 10%, class 2 50%, and the rest the remainder; every image has type
// class 0. Filters: colour 0 (1%), colour 1 (10%), colour 2 (50%) and
// type 0 (100%), plus no filter. For each index type and filter it prints
// p50/p99 latency, the strategy SearchSelected chose, and recall@10 against
// exact search over the selected rows.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "common/exit_code.h"
#include "eval/attributes.h"
#include "index/gallery_index.h"
#include "index/synthetic_embeddings.h"
#include "rerank/gallery_attributes.h"

ABSL_FLAG(int64_t, gallery, 100000, "Images in the gallery.");
ABSL_FLAG(int64_t, dim, 512, "Embedding size.");
ABSL_FLAG(int, queries, 300, "Timed queries per filter.");
ABSL_FLAG(std::string, indexes, "Flat,HNSW32",
          "Comma-separated FAISS index_factory strings.");

namespace {

using Clock = std::chrono::steady_clock;
using eval::AttributeLayout;
using eval::VehicleField;

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

const char* StrategyName(gallery::GalleryIndex::Selection s) {
  switch (s) {
    case gallery::GalleryIndex::Selection::kAll:
      return "all rows";
    case gallery::GalleryIndex::Selection::kExactSubset:
      return "exact subset";
    case gallery::GalleryIndex::Selection::kSearchThenFilter:
      return "search, then filter";
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  common::ParseFlagsOrExit(
      argc, argv,
      "Latency of attribute-filtered search at several selectivities.\n"
      "  filter_bench [--gallery=100000] [--dim=512] [--queries=300] "
      "[--indexes=Flat,HNSW32]");
  const int64_t n = absl::GetFlag(FLAGS_gallery);
  const int64_t dim = absl::GetFlag(FLAGS_dim);
  const int nq = absl::GetFlag(FLAGS_queries);
  if (n < 1000 || dim < 1 || nq < 10) {
    std::fprintf(stderr,
                 "--gallery must be >= 1000, --dim >= 1, --queries >= 10\n");
    return common::kExitUsage;
  }
  std::printf("gallery %lld x %lld, %d queries per filter, batch 1, k 10\n",
              static_cast<long long>(n), static_cast<long long>(dim), nq);
  const std::vector<float> data =
      gallery::ClusteredUnitVectors(n, dim, 1000, 1);
  std::vector<float> queries = gallery::ClusteredUnitVectors(nq, dim, 1000, 2);
  std::vector<std::string> names(n);
  for (int64_t i = 0; i < n; ++i) names[i] = "img" + std::to_string(i);
  const std::vector<common::Category> categories(n, common::Category::kVehicle);

  // Recorded attributes: colour class by share, type class 0 everywhere.
  std::vector<float> probs(n * AttributeLayout::kSize, 0.0f);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (int64_t i = 0; i < n; ++i) {
    float* p = probs.data() + i * AttributeLayout::kSize;
    p[AttributeLayout::kCategory + 1] = 1;
    const double x = u(rng);
    const int colour = x < 0.01 ? 0 : x < 0.11 ? 1 : x < 0.61 ? 2 : 3;
    p[AttributeLayout::Offset(VehicleField::kColor) + colour] = 1;
    p[AttributeLayout::Offset(VehicleField::kType)] = 1;
    p[AttributeLayout::Offset(VehicleField::kBrand)] = 1;
  }
  auto attributes = rerank::GalleryAttributes::FromProbabilities(probs);
  if (!attributes.ok()) {
    std::fprintf(stderr, "%s\n", attributes.status().ToString().c_str());
    return common::kExitFailure;
  }
  struct Filter {
    const char* name;
    rerank::AttributeConditions conditions;
  };
  std::vector<Filter> filters(5);
  filters[0].name = "no filter";
  filters[1].name = "colour 0 (~1%)";
  filters[1].conditions.vehicle[0] = 0;
  filters[2].name = "colour 1 (~10%)";
  filters[2].conditions.vehicle[0] = 1;
  filters[3].name = "colour 2 (~50%)";
  filters[3].conditions.vehicle[0] = 2;
  filters[4].name = "type 0 (100%)";
  filters[4].conditions.vehicle[1] = 0;

  for (const std::string& factory : std::vector<std::string>(
           absl::StrSplit(absl::GetFlag(FLAGS_indexes), ','))) {
    gallery::BuildOptions options;
    options.factory = factory;
    const auto build_start = Clock::now();
    auto index =
        gallery::GalleryIndex::Build(data, dim, names, categories, options);
    if (!index.ok()) {
      std::fprintf(stderr, "%s: %s\n", factory.c_str(),
                   index.status().ToString().c_str());
      return common::kExitFailure;
    }
    // Rows keep their order (one category), so row r is data row r.
    std::printf(
        "\n%s (built in %.1f s)\n", factory.c_str(),
        std::chrono::duration<double>(Clock::now() - build_start).count());
    std::printf("  %-18s %9s %9s %9s %10s  %s\n", "filter", "selected",
                "p50 ms", "p99 ms", "recall@10", "strategy");
    for (const Filter& f : filters) {
      std::vector<double> ms;
      std::vector<std::vector<gallery::Hit>> got;
      gallery::GalleryIndex::Selection used =
          gallery::GalleryIndex::Selection::kAll;
      int64_t selected = n;
      std::vector<int64_t> rows;
      for (int q = 0; q < nq; ++q) {
        const float* query = queries.data() + q * dim;
        const auto start = Clock::now();
        absl::StatusOr<std::vector<std::vector<gallery::Hit>>> hits;
        if (f.conditions.empty()) {
          hits = (*index)->Search(query, 1, 10);
        } else {
          rows = attributes->MatchingRows(0, n, f.conditions);
          hits = (*index)->SearchSelected(
              query, 1, 10, common::Category::kUnspecified, rows, &used);
          selected = static_cast<int64_t>(rows.size());
        }
        ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - start)
                .count());
        if (!hits.ok()) {
          std::fprintf(stderr, "%s\n", hits.status().ToString().c_str());
          return common::kExitFailure;
        }
        got.push_back((*hits)[0]);
      }
      // Exact top-10 over the selected rows.
      if (f.conditions.empty()) {
        rows.resize(n);
        for (int64_t i = 0; i < n; ++i) rows[i] = i;
      }
      std::vector<float> subset;
      subset.reserve(rows.size() * dim);
      for (int64_t r : rows) {
        subset.insert(subset.end(), data.begin() + r * dim,
                      data.begin() + (r + 1) * dim);
      }
      auto truth = gallery::BruteForceTopK(subset.data(),
                                           static_cast<int64_t>(rows.size()),
                                           queries.data(), nq, dim, 10);
      for (auto& list : truth) {
        for (auto& id : list) id = rows[id];
      }
      std::printf(
          "  %-18s %8.1f%% %9.3f %9.3f %10.3f  %s\n", f.name,
          100.0 * static_cast<double>(selected) / static_cast<double>(n),
          Percentile(ms, 0.5), Percentile(ms, 0.99),
          gallery::RecallAtK(truth, got, 10),
          f.conditions.empty() ? "unfiltered" : StrategyName(used));
    }
  }
  return 0;
}
