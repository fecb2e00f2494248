// Proves the FAISS wiring: a flat inner-product index returns the same top-k
// as brute force on seeded random data.
#include <faiss/IndexFlat.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace {

TEST(FaissWiringTest, FlatInnerProductMatchesBruteForce) {
  constexpr int kDim = 32, kBase = 1000, kQueries = 20, kK = 10;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  std::vector<float> base(kBase * kDim), queries(kQueries * kDim);
  for (float& v : base) v = normal(rng);
  for (float& v : queries) v = normal(rng);

  faiss::IndexFlatIP index(kDim);
  index.add(kBase, base.data());
  std::vector<float> distances(kQueries * kK);
  std::vector<int64_t> labels(kQueries * kK);
  index.search(kQueries, queries.data(), kK, distances.data(), labels.data());

  for (int q = 0; q < kQueries; ++q) {
    std::vector<float> scores(kBase);
    for (int i = 0; i < kBase; ++i) {
      scores[i] = std::inner_product(base.begin() + i * kDim,
                                     base.begin() + (i + 1) * kDim,
                                     queries.begin() + q * kDim, 0.f);
    }
    std::vector<int> order(kBase);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + kK, order.end(),
                      [&](int a, int b) { return scores[a] > scores[b]; });
    for (int r = 0; r < kK; ++r) {
      EXPECT_EQ(labels[q * kK + r], order[r]) << "query " << q << " rank " << r;
      EXPECT_NEAR(distances[q * kK + r], scores[order[r]], 1e-4);
    }
  }
}

}  // namespace
