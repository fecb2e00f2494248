#include "rerank/attribute_head.h"

#include <cmath>
#include <numeric>

#include "common/status_matchers.h"
#include "eval/attributes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using ::common_testing::StatusIs;
using eval::AttributeLayout;
using ::testing::HasSubstr;

constexpr int kK = AttributeLayout::kSize;

// A head whose output j is bias j plus weight (j % 3 - 1) times dimension 0.
std::pair<std::vector<float>, std::vector<float>> MakeWeights(int dim) {
  std::vector<float> w(kK * dim, 0.0f), b(kK);
  for (int j = 0; j < kK; ++j) {
    w[j * dim] = static_cast<float>(j % 3 - 1);
    b[j] = 0.01f * j;
  }
  return {w, b};
}

float Sum(const std::vector<float>& v, int offset, int n) {
  return std::accumulate(v.begin() + offset, v.begin() + offset + n, 0.0f);
}

TEST(AttributeHeadTest, PredictAppliesTheLinearLayerThenEachGroupsLink) {
  auto [w, b] = MakeWeights(4);
  auto head = AttributeHead::FromWeights(w, b, 4);
  ASSERT_OK(head.status());
  const std::vector<float> e = {0.5f, 0.5f, 0.5f, 0.5f, 1.0f, 0, 0, 0};
  std::vector<float> p = head->Predict(e.data(), 2);
  ASSERT_EQ(p.size(), 2u * kK);
  for (int r = 0; r < 2; ++r) {
    const float x = e[r * 4];
    // A flag: sigmoid of its logit.
    const int f = AttributeLayout::kFlags + 3;
    const float logit = b[f] + (f % 3 - 1) * x;
    EXPECT_NEAR(p[r * kK + f], 1 / (1 + std::exp(-logit)), 1e-6);
    // Softmax groups sum to one.
    EXPECT_NEAR(Sum(p, r * kK, AttributeLayout::kNumCategories), 1.0f, 1e-5);
    for (auto field : {eval::VehicleField::kColor, eval::VehicleField::kType,
                       eval::VehicleField::kBrand}) {
      EXPECT_NEAR(Sum(p, r * kK + AttributeLayout::Offset(field),
                      AttributeLayout::Classes(field)),
                  1.0f, 1e-5);
    }
  }
  // Category: softmax of (b0 - x, b1 + 0 x).
  const float l0 = b[0] - 1.0f, l1 = b[1];
  EXPECT_NEAR(p[kK + 0], std::exp(l0) / (std::exp(l0) + std::exp(l1)), 1e-6);
}

TEST(AttributeHeadTest, FromWeightsChecksShapes) {
  auto [w, b] = MakeWeights(4);
  EXPECT_THAT(AttributeHead::FromWeights(w, b, 5).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[")));
  b.pop_back();
  EXPECT_FALSE(AttributeHead::FromWeights(w, b, 4).ok());
}

std::string Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

clip::SafetensorsFile Write(bool with_layout, const std::string& layout) {
  auto [w, b] = MakeWeights(4);
  clip::SafetensorsWriter writer;
  for (Tower t : {Tower::kImage, Tower::kText}) {
    EXPECT_OK(
        writer.Add(HeadWeightName(t), clip::DType::kF32, {kK, 4}, Bytes(w)));
    EXPECT_OK(writer.Add(HeadBiasName(t), clip::DType::kF32, {kK}, Bytes(b)));
  }
  if (with_layout) writer.SetMetadata(kAttributeLayoutKey, layout);
  auto file = clip::SafetensorsFile::Parse(writer.Serialize(), "m.safetensors");
  EXPECT_OK(file.status());
  return *std::move(file);
}

TEST(AttributeHeadTest, ReadsBothTowersFromSafetensors) {
  clip::SafetensorsFile file = Write(true, eval::AttributeLayoutId());
  EXPECT_TRUE(AttributeHead::PresentIn(file));
  auto text = AttributeHead::Read(file, Tower::kText);
  ASSERT_OK(text.status());
  EXPECT_EQ(text->dim(), 4);
  EXPECT_EQ(HeadWeightName(Tower::kImage), "attribute_head.image.weight");
}

TEST(AttributeHeadTest, RefusesAnotherLayoutOrNone) {
  EXPECT_THAT(
      AttributeHead::Read(Write(true, "category2,flags26"), Tower::kImage)
          .status(),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("m.safetensors: attribute heads of layout "
                         "\"category2,flags26\"")));
  EXPECT_THAT(AttributeHead::Read(Write(false, ""), Tower::kImage).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  clip::SafetensorsWriter empty;
  auto file = clip::SafetensorsFile::Parse(empty.Serialize(), "e.safetensors");
  ASSERT_OK(file.status());
  EXPECT_FALSE(AttributeHead::PresentIn(*file));
  EXPECT_THAT(AttributeHead::Read(*file, Tower::kText).status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

}  // namespace
}  // namespace rerank
