#include "trainer/attribute_heads.h"

#include <cmath>

#include "common/status_matchers.h"
#include "gtest/gtest.h"
#include "trainer/dataset.h"

namespace trainer {
namespace {

using eval::AttributeLayout;

PairDataset Dataset() {
  std::vector<eval::LabelRecord> records(3);
  records[0] = {"a.jpg", "white Audi.", "A white Audi.",
                eval::Category::kVehicle, 1};
  records[1] = {"000001.jpg", "1,0,1,0,0,0,1,1,0,0,0,0,0,0,1,0,0,0,0,0,0",
                "A woman.", eval::Category::kPedestrian, 2};
  records[2] = {"b.jpg", "Tesla.", "A Tesla.", eval::Category::kVehicle, 3};
  return PairDataset::FromRecords(records, "/images");
}

TEST(AttributeHeadsTest, TargetTableFollowsTheAttributes) {
  auto table = BuildTargetTable(Dataset(), torch::kCPU);
  ASSERT_OK(table.status());
  ASSERT_EQ(table->category.size(0), 3);
  EXPECT_EQ(table->category[0].item<int64_t>(), 1);  // vehicle
  EXPECT_EQ(table->category[1].item<int64_t>(), 0);  // pedestrian
  EXPECT_EQ(table->pedestrian[1].item<float>(), 1);
  EXPECT_EQ(table->flags[1][7].item<float>(), 1);  // Hat
  EXPECT_EQ(table->vehicle[0][1].item<int64_t>(), -100);
  EXPECT_EQ(table->vehicle[2][2].item<int64_t>(),
            eval::OtherClass(eval::VehicleField::kBrand));
  EXPECT_EQ(table->stats.unknown[2].at("Tesla"), 1);
}

TEST(AttributeHeadsTest, LossIsLowForLogitsThatMatchTheTargets) {
  auto table = BuildTargetTable(Dataset(), torch::kCPU);
  ASSERT_OK(table.status());
  const torch::Tensor ids = torch::tensor({0, 1, 2}, torch::kInt64);
  // Logits of +-20 at every target class / flag.
  torch::Tensor good = torch::full({3, AttributeLayout::kSize}, -20.0);
  for (int64_t r = 0; r < 3; ++r) {
    good[r][table->category[r].item<int64_t>()] = 20;
    for (int f = 0; f < eval::kNumPedestrianFlags; ++f) {
      if (table->flags[r][f].item<float>() > 0) {
        good[r][AttributeLayout::kFlags + f] = 20;
      }
    }
    for (int f = 0; f < eval::kNumVehicleFields; ++f) {
      const int64_t c = table->vehicle[f][r].item<int64_t>();
      if (c >= 0) {
        good[r][AttributeLayout::Offset(static_cast<eval::VehicleField>(f)) +
                c] = 20;
      }
    }
  }
  const float low = AttributeLoss(good, ids, *table).item<float>();
  const float zero =
      AttributeLoss(torch::zeros({3, AttributeLayout::kSize}), ids, *table)
          .item<float>();
  EXPECT_LT(low, 1e-3);
  // Zero logits: log 2 (category) + 21 log 2 (flags) + log 13 + log 8 +
  // log 67 (vehicle groups).
  EXPECT_NEAR(
      zero,
      std::log(2.0) * 22 + std::log(13.0) + std::log(8.0) + std::log(67.0),
      1e-3);
  // Gradients reach the logits.
  torch::Tensor x =
      torch::zeros({3, AttributeLayout::kSize}, torch::requires_grad());
  AttributeLoss(x, ids, *table).backward();
  EXPECT_GT(x.grad().abs().sum().item<float>(), 0);
}

TEST(AttributeHeadsTest, HeadsMapTheEmbeddingToTheLayout) {
  AttributeHeads heads(16);
  EXPECT_EQ(heads->image(torch::zeros({2, 16})).size(1),
            AttributeLayout::kSize);
  EXPECT_EQ(heads->named_parameters().size(), 4u);
}

}  // namespace
}  // namespace trainer
