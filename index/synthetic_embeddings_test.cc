#include "index/synthetic_embeddings.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace gallery {
namespace {

double Norm(const float* v, int64_t dim) {
  double n = 0;
  for (int64_t j = 0; j < dim; ++j) n += v[j] * v[j];
  return std::sqrt(n);
}

double Dot(const float* a, const float* b, int64_t dim) {
  double d = 0;
  for (int64_t j = 0; j < dim; ++j) d += a[j] * b[j];
  return d;
}

class SyntheticGalleryTest : public ::testing::TestWithParam<SyntheticKind> {
 protected:
  SyntheticOptions Options() const {
    SyntheticOptions o;
    o.kind = GetParam();
    o.dim = 64;
    o.subspace_dim = 8;
    o.coarse = 4;
    o.fine_per_coarse = 4;
    o.clusters = 10;
    o.seed = 3;
    return o;
  }
};

TEST_P(SyntheticGalleryTest, RowsDoNotDependOnHowTheRangeIsSplit) {
  const SyntheticGallery gen(Options());
  const int64_t n = 5000, d = gen.dim();
  std::vector<float> whole(n * d), parts(n * d);
  gen.Rows(0, n, whole.data(), 2);
  gen.Rows(0, 1234, parts.data(), 1);
  gen.Rows(1234, 1235, parts.data() + 1234 * d, 1);
  gen.Rows(1235, n, parts.data() + 1235 * d, 3);
  EXPECT_EQ(whole, parts);
  for (int64_t i = 0; i < n; i += 97) {
    EXPECT_NEAR(Norm(whole.data() + i * d, d), 1.0, 1e-5) << "row " << i;
  }
  // Another seed, other rows.
  SyntheticOptions other = Options();
  other.seed = 4;
  std::vector<float> row(d);
  SyntheticGallery(other).Rows(0, 1, row.data());
  EXPECT_NE(std::vector<float>(whole.begin(), whole.begin() + d), row);
}

TEST_P(SyntheticGalleryTest, QueriesLieNearTheirRowButAreNotIt) {
  const SyntheticGallery gen(Options());
  const int64_t d = gen.dim();
  std::vector<float> row(d), q1(d), q2(d);
  gen.Rows(42, 43, row.data());
  gen.QueryNear(42, 0.3f, 0, q1.data());
  gen.QueryNear(42, 0.3f, 1, q2.data());
  EXPECT_NEAR(Norm(q1.data(), d), 1.0, 1e-5);
  const double cos = Dot(row.data(), q1.data(), d);
  EXPECT_GT(cos, 0.9);
  EXPECT_LT(cos, 0.999);
  EXPECT_NE(q1, q2);
}

INSTANTIATE_TEST_SUITE_P(Kinds, SyntheticGalleryTest,
                         ::testing::Values(SyntheticKind::kClustered,
                                           SyntheticKind::kLowRank));

// The hierarchy: a row's nearest other row (from its fine centre) is far
// closer than the average pair.
TEST(SyntheticGalleryLowRank, NearbyRowsShareCentres) {
  SyntheticOptions o;
  o.kind = SyntheticKind::kLowRank;
  o.dim = 128;
  o.subspace_dim = 16;
  o.coarse = 2;
  o.fine_per_coarse = 2;
  o.seed = 9;
  const SyntheticGallery gen(o);
  const int64_t n = 400, d = gen.dim();
  std::vector<float> rows(n * d);
  gen.Rows(0, n, rows.data());
  double best_sum = 0, all_sum = 0;
  int64_t pairs = 0;
  for (int64_t i = 0; i < n; ++i) {
    double best = -1;
    for (int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const double c = Dot(rows.data() + i * d, rows.data() + j * d, d);
      best = std::max(best, c);
      all_sum += c;
      ++pairs;
    }
    best_sum += best;
  }
  EXPECT_GT(best_sum / n, 0.85);
  EXPECT_LT(all_sum / pairs, best_sum / n - 0.2);
}

}  // namespace
}  // namespace gallery
