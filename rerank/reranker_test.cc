#include "rerank/reranker.h"

#include <cmath>

#include "common/status_matchers.h"
#include "eval/attributes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using ::common_testing::StatusIs;
using eval::AttributeLayout;
using ::testing::HasSubstr;

// Probabilities of a certain label: one-hot groups (flags 0/1).
std::vector<float> Certain(const std::string& attribute) {
  auto t = eval::ParseAttributeTargets(attribute);
  EXPECT_OK(t.status());
  std::vector<float> v = eval::TargetsToVector(*t);
  if (t->category == eval::Category::kPedestrian) {
    // Vehicle groups of a pedestrian: uniform.
    for (auto f : {eval::VehicleField::kColor, eval::VehicleField::kType,
                   eval::VehicleField::kBrand}) {
      for (int c = 0; c < AttributeLayout::Classes(f); ++c) {
        v[AttributeLayout::Offset(f) + c] = 1.0f / AttributeLayout::Classes(f);
      }
    }
  } else {
    for (int f = 0; f < eval::kNumPedestrianFlags; ++f) {
      v[AttributeLayout::kFlags + f] = 0.5f;
    }
  }
  return v;
}

constexpr char kPed1[] = "1,0,1,0,0,0,1,1,0,0,0,0,0,0,1,0,0,0,0,0,0";
constexpr char kPed2[] = "1,0,1,0,0,0,1,0,0,0,0,0,0,0,1,0,0,0,0,0,0";

TEST(RerankWeightsTest, RoundTripsAndRejectsBadText) {
  RerankWeights w{0.5, 0.02, 1};
  auto parsed = RerankWeights::Parse(w.ToString());
  ASSERT_OK(parsed.status());
  EXPECT_EQ(*parsed, w);
  EXPECT_TRUE(w.enabled());
  EXPECT_FALSE(RerankWeights().enabled());
  EXPECT_THAT(RerankWeights::Parse("category=x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"category=x\"")));
  EXPECT_THAT(RerankWeights::Parse("colour=1").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown weight \"colour\"")));
  EXPECT_FALSE(RerankWeights::Parse("vehicle=-1").ok());
}

TEST(AgreementTest, IsZeroForTheSameLabelAndVeryNegativeOtherwise) {
  const auto audi = Certain("white Audi."), bmw = Certain("white BMW.");
  const Agreement same = ComputeAgreement(audi.data(), audi.data());
  EXPECT_NEAR(same.category, 0, 1e-6);
  EXPECT_NEAR(same.vehicle, 0, 1e-6);
  const Agreement other = ComputeAgreement(audi.data(), bmw.data());
  EXPECT_NEAR(other.vehicle, std::log(1e-6f), 1e-3);  // the brand differs
  const auto p1 = Certain(kPed1), p2 = Certain(kPed2);
  EXPECT_NEAR(ComputeAgreement(p1.data(), p1.data()).pedestrian, 0, 1e-6);
  EXPECT_NEAR(ComputeAgreement(p1.data(), p2.data()).pedestrian,
              std::log(1e-6f), 1e-3);  // one flag (Hat) differs
  EXPECT_NEAR(ComputeAgreement(p1.data(), audi.data()).category,
              std::log(1e-6f), 1e-3);
  EXPECT_EQ(PredictedCategory(p1.data()), common::Category::kPedestrian);
  EXPECT_EQ(PredictedCategory(audi.data()), common::Category::kVehicle);
}

TEST(RerankTest, AttributeAgreementOutranksASmallCosineLead) {
  // Gallery rows: 0 white BMW, 1 white Audi, 2 a pedestrian.
  std::vector<float> table;
  for (const char* a : {"white BMW.", "white Audi.", kPed1}) {
    const auto v = Certain(a);
    table.insert(table.end(), v.begin(), v.end());
  }
  const auto query = Certain("white Audi.");
  std::vector<Candidate> c = {{2, 0.9f}, {0, 0.8f}, {1, 0.7f}};
  Rerank(query.data(), table.data(), RerankWeights{0.01, 0.01, 0.01}, &c);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].row, 1);
  EXPECT_FLOAT_EQ(c[0].cosine, 0.7f);
  EXPECT_NEAR(c[0].score, 0.7f, 1e-4);
  EXPECT_LT(c[1].score, c[0].score);
  // With zero weights the order is the cosine order.
  std::vector<Candidate> d = {{2, 0.9f}, {0, 0.8f}, {1, 0.7f}};
  Rerank(query.data(), table.data(), RerankWeights(), &d);
  EXPECT_EQ(d[0].row, 2);
  EXPECT_EQ(d[2].row, 1);
}

}  // namespace
}  // namespace rerank
