#include "rerank/fit.h"

#include <cmath>

#include "common/status_matchers.h"
#include "eval/attributes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using common::Category;
using ::common_testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kP1[] = "1,0,1,0,0,0,1,1,0,0,0,0,0,0,1,0,0,0,0,0,0";
constexpr char kP2[] = "0,0,1,0,1,0,0,0,1,0,0,0,0,1,0,0,0,0,0,0,0";

// Certain probabilities of `attribute`'s label (the groups that do not apply
// stay zero, which the agreement floors).
std::vector<float> Probs(const std::string& attribute) {
  auto t = eval::ParseAttributeTargets(attribute);
  EXPECT_OK(t.status());
  return eval::TargetsToVector(*t);
}

// Eight images whose cosine order is their row order for every text, laid
// out so that each text's relevant images come late: rows
// [V2, P2, V1, P1, V2, P2, V1, P1]. Texts: P1, P2, V1, V2.
FitData MakeSplit() {
  const std::vector<std::string> attrs = {kP1, kP2, "white Audi.",
                                          "white BMW."};
  const std::vector<int> rows = {3, 1, 2, 0, 3, 1, 2, 0};
  FitData d;
  d.dim = 2;
  std::vector<int> image_attr;
  for (size_t j = 0; j < rows.size(); ++j) {
    const float y = 0.01f * j, n = std::sqrt(1 + y * y);
    d.image_embeddings.insert(d.image_embeddings.end(), {1 / n, y / n});
    const auto p = Probs(attrs[rows[j]]);
    d.image_probs.insert(d.image_probs.end(), p.begin(), p.end());
    d.image_categories.push_back(rows[j] < 2 ? Category::kPedestrian
                                             : Category::kVehicle);
    image_attr.push_back(rows[j]);
  }
  for (int t = 0; t < 4; ++t) {
    d.text_embeddings.insert(d.text_embeddings.end(), {1, 0});
    const auto p = Probs(attrs[t]);
    d.text_probs.insert(d.text_probs.end(), p.begin(), p.end());
    d.text_categories.push_back(t < 2 ? Category::kPedestrian
                                      : Category::kVehicle);
  }
  d.relevant = [image_attr](int64_t text, int64_t image) {
    return image_attr[image] == text;
  };
  return d;
}

TEST(FitRerankWeightsTest, FindsWeightsThatPutAgreeingImagesFirst) {
  auto r = FitRerankWeights(MakeSplit());
  ASSERT_OK(r.status());
  // By hand: P1 relevant at ranks 4, 8; P2 at 2, 6; V1 at 3, 7; V2 at 1, 5.
  const double baseline = ((1.0 / 4 + 2.0 / 8) / 2 + (1.0 / 2 + 2.0 / 6) / 2 +
                           (1.0 / 3 + 2.0 / 7) / 2 + (1.0 + 2.0 / 5) / 2) /
                          4;
  EXPECT_NEAR(r->baseline.overall.map_at_10, baseline, 1e-5);
  EXPECT_NEAR(r->baseline.overall.recall_at_1, 0.25, 1e-9);
  // Routing: within its category each text's images come at ranks 2 and 4
  // (P1, V1) or 1 and 3 (P2, V2).
  const double routed =
      ((1.0 / 2 + 2.0 / 4) / 2 * 2 + (1 + 2.0 / 3) / 2 * 2) / 4;
  EXPECT_NEAR(r->routed.overall.map_at_10, routed, 1e-5);
  EXPECT_NEAR(r->reranked.overall.map_at_10, 1.0, 1e-5);
  EXPECT_NEAR(r->routed_reranked.overall.map_at_10, 1.0, 1e-5);
  EXPECT_NEAR(r->reranked.pedestrian.map_at_10, 1.0, 1e-5);
  EXPECT_EQ(r->reranked.vehicle.num_queries, 2);
  // Pedestrian texts need the pedestrian weight, vehicle texts the vehicle
  // weight; the smallest grid values that do it are chosen.
  EXPECT_EQ(r->weights.category, 0);
  EXPECT_EQ(r->weights.pedestrian, 0.005);
  EXPECT_EQ(r->weights.vehicle, 0.005);
  EXPECT_EQ(r->misrouted_texts, 0);
  EXPECT_THAT(r->Table(), HasSubstr("+ re-ranking"));
  bool found = false;
  for (const auto& [k, v] : r->ToMetadata()) {
    if (k == "rerank_val_map10_reranked") found = (v == "1");
  }
  EXPECT_TRUE(found);
}

TEST(FitRerankWeightsTest, RejectsInconsistentInput) {
  FitData d = MakeSplit();
  d.text_probs.pop_back();
  EXPECT_THAT(FitRerankWeights(d).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("inconsistent sizes")));
  FitOptions o;
  o.grid.clear();
  EXPECT_FALSE(FitRerankWeights(MakeSplit(), o).ok());
  EXPECT_FALSE(FitRerankWeights(FitData()).ok());
}

}  // namespace
}  // namespace rerank
