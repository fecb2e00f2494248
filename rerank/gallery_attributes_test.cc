#include "rerank/gallery_attributes.h"

#include "common/status_matchers.h"
#include "eval/attributes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using ::common_testing::StatusIs;
using eval::AttributeLayout;
using eval::VehicleField;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

int ClassOf(VehicleField field, const std::string& word) {
  for (int c = 0; c < eval::VehicleFieldClasses(field); ++c) {
    if (eval::VehicleClassName(field, c) == word) return c;
  }
  ADD_FAILURE() << "no class " << word;
  return 0;
}

// A vehicle row: the named classes most probable (0.6), the rest sharing
// what is left.
void AddVehicle(std::vector<float>& probs, const std::string& color,
                const std::string& type, const std::string& brand) {
  std::vector<float> p(AttributeLayout::kSize, 0.0f);
  p[AttributeLayout::kCategory] = 0.3f;
  p[AttributeLayout::kCategory + 1] = 0.7f;
  const std::string words[3] = {color, type, brand};
  for (int f = 0; f < eval::kNumVehicleFields; ++f) {
    const auto field = static_cast<VehicleField>(f);
    const int n = AttributeLayout::Classes(field);
    for (int c = 0; c < n; ++c) {
      p[AttributeLayout::Offset(field) + c] = 0.4f / (n - 1);
    }
    p[AttributeLayout::Offset(field) + ClassOf(field, words[f])] = 0.6f;
  }
  probs.insert(probs.end(), p.begin(), p.end());
}

void AddPedestrian(std::vector<float>& probs,
                   const std::vector<float>& flag_probs) {
  std::vector<float> p(AttributeLayout::kSize, 0.0f);
  p[AttributeLayout::kCategory] = 0.9f;
  p[AttributeLayout::kCategory + 1] = 0.1f;
  for (size_t f = 0; f < flag_probs.size(); ++f) {
    p[AttributeLayout::kFlags + f] = flag_probs[f];
  }
  probs.insert(probs.end(), p.begin(), p.end());
}

const std::string& Word(VehicleField f, int i) {
  return eval::VehicleFieldVocabulary(f)[i];
}

class GalleryAttributesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    color0_ = Word(VehicleField::kColor, 0);
    color1_ = Word(VehicleField::kColor, 1);
    type0_ = Word(VehicleField::kType, 0);
    brand0_ = Word(VehicleField::kBrand, 0);
    brand1_ = Word(VehicleField::kBrand, 1);
    std::vector<float> probs;
    AddPedestrian(probs, {0.9f, 0.1f, 0.5f});     // row 0: flags 0 and 2
    AddPedestrian(probs, {0.2f, 0.7f});           // row 1: flag 1
    AddVehicle(probs, color0_, type0_, brand0_);  // row 2
    AddVehicle(probs, color1_, type0_, brand1_);  // row 3
    AddVehicle(probs, color0_, "none", "other");  // row 4
    auto g = GalleryAttributes::FromProbabilities(probs);
    ASSERT_OK(g.status());
    gallery_ = std::move(*g);
  }
  std::string color0_, color1_, type0_, brand0_, brand1_;
  GalleryAttributes gallery_;
};

TEST_F(GalleryAttributesTest, RecordsTheMostProbableClassesAndFlags) {
  ASSERT_EQ(gallery_.size(), 5);
  EXPECT_EQ(gallery_.row(0).category, common::Category::kPedestrian);
  EXPECT_EQ(gallery_.row(0).flags, 0b101u);  // 0.5 counts as present
  EXPECT_EQ(gallery_.row(1).flags, 0b010u);
  EXPECT_EQ(gallery_.row(0).vehicle[0], -1);
  EXPECT_EQ(gallery_.row(3).category, common::Category::kVehicle);
  EXPECT_EQ(gallery_.row(3).vehicle[0], 1);
  EXPECT_EQ(gallery_.row(3).vehicle[2], 1);
  EXPECT_EQ(gallery_.row(3).flags, 0u);
  EXPECT_EQ(gallery_.row(4).vehicle[1], eval::NoneClass(VehicleField::kType));
  EXPECT_EQ(gallery_.row(4).vehicle[2], eval::OtherClass(VehicleField::kBrand));
}

TEST_F(GalleryAttributesTest, ConditionsCombineByAnd) {
  auto all = MakeConditions("", "", "", {}, "filter.");
  ASSERT_OK(all.status());
  EXPECT_TRUE(all->empty());
  EXPECT_THAT(gallery_.MatchingRows(0, 5, *all), ElementsAre(0, 1, 2, 3, 4));

  auto color = MakeConditions(color0_, "", "", {}, "filter.");
  ASSERT_OK(color.status());
  EXPECT_FALSE(color->empty());
  EXPECT_THAT(gallery_.MatchingRows(0, 5, *color), ElementsAre(2, 4));
  auto color_type = MakeConditions(color0_, type0_, "", {}, "filter.");
  ASSERT_OK(color_type.status());
  EXPECT_THAT(gallery_.MatchingRows(0, 5, *color_type), ElementsAre(2));
  auto other = MakeConditions("", "", "other", {}, "filter.");
  ASSERT_OK(other.status());
  EXPECT_THAT(gallery_.MatchingRows(0, 5, *other), ElementsAre(4));
  // A range restricts the rows looked at.
  EXPECT_THAT(gallery_.MatchingRows(3, 5, *color), ElementsAre(4));

  const std::string f0 = eval::kPedestrianFlagNames[0];
  const std::string f1 = eval::kPedestrianFlagNames[1];
  auto present = MakeConditions("", "", "", {{f0, true}}, "filter.");
  ASSERT_OK(present.status());
  EXPECT_THAT(gallery_.MatchingRows(0, 5, *present), ElementsAre(0));
  auto absent = MakeConditions("", "", "", {{f0, false}}, "filter.");
  ASSERT_OK(absent.status());
  // Only pedestrians: vehicles have no flags to be absent.
  EXPECT_THAT(gallery_.MatchingRows(0, 5, *absent), ElementsAre(1));
  auto both = MakeConditions("", "", "", {{f0, true}, {f1, true}}, "filter.");
  ASSERT_OK(both.status());
  EXPECT_TRUE(gallery_.MatchingRows(0, 5, *both).empty());
  // A vehicle condition and a pedestrian one: nothing is both.
  auto mixed = MakeConditions(color0_, "", "", {{f0, true}}, "filter.");
  ASSERT_OK(mixed.status());
  EXPECT_TRUE(gallery_.MatchingRows(0, 5, *mixed).empty());
}

TEST(MakeConditionsTest, UnknownWordsNameTheField) {
  EXPECT_THAT(
      MakeConditions("mauve", "", "", {}, "filter.").status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("filter.vehicle_color: unknown colour 'mauve'")));
  EXPECT_THAT(MakeConditions("", "spaceship", "", {}, "f.").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("f.vehicle_type: unknown type")));
  EXPECT_THAT(
      MakeConditions("", "", "", {{"Wings", true}}, "filter.").status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("filter.pedestrian_flags: unknown flag 'Wings'")));
}

TEST(GalleryAttributesFromProbabilitiesTest, RefusesPartialRows) {
  std::vector<float> probs(AttributeLayout::kSize + 3, 0.1f);
  EXPECT_THAT(
      GalleryAttributes::FromProbabilities(probs).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not rows of")));
}

}  // namespace
}  // namespace rerank
