#include "eval/attributes.h"

#include "common/file_util.h"
#include "common/status_matchers.h"
#include "common/test_data.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eval {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

constexpr int kColor = static_cast<int>(VehicleField::kColor);
constexpr int kType = static_cast<int>(VehicleField::kType);
constexpr int kBrand = static_cast<int>(VehicleField::kBrand);

int Index(VehicleField field, const std::string& name) {
  const auto& v = VehicleFieldVocabulary(field);
  return static_cast<int>(std::find(v.begin(), v.end(), name) - v.begin());
}

TEST(AttributeLayoutTest, GroupsAreContiguousAndSizedByTheVocabularies) {
  EXPECT_EQ(AttributeLayout::kFlags, 2);
  EXPECT_EQ(AttributeLayout::kColor, 23);
  EXPECT_EQ(
      AttributeLayout::Classes(VehicleField::kColor),
      static_cast<int>(VehicleFieldVocabulary(VehicleField::kColor).size()) +
          2);
  EXPECT_EQ(
      AttributeLayout::Classes(VehicleField::kType),
      static_cast<int>(VehicleFieldVocabulary(VehicleField::kType).size()) + 2);
  EXPECT_EQ(
      AttributeLayout::Classes(VehicleField::kBrand),
      static_cast<int>(VehicleFieldVocabulary(VehicleField::kBrand).size()) +
          2);
  EXPECT_EQ(AttributeLayout::kSize,
            AttributeLayout::kBrand + AttributeLayout::kBrandClasses);
  EXPECT_EQ(AttributeLayoutId(), "category2,flags21,colour13,type8,brand67");
  EXPECT_EQ(
      VehicleClassName(VehicleField::kType, NoneClass(VehicleField::kType)),
      "none");
  EXPECT_EQ(
      VehicleClassName(VehicleField::kBrand, OtherClass(VehicleField::kBrand)),
      "other");
}

TEST(ParseAttributeTargetsTest, PedestrianFlags) {
  auto t_or =
      ParseAttributeTargets("1,0,1,0,0,0,1,1,0,0,0,0,0,0,1,0,0,0,0,0,1");
  ASSERT_OK(t_or.status());
  AttributeTargets t = *t_or;
  EXPECT_EQ(t.category, Category::kPedestrian);
  EXPECT_EQ(t.flags[0], 1);
  EXPECT_EQ(t.flags[1], 0);
  EXPECT_EQ(t.flags[2], 1);
  EXPECT_EQ(t.flags[20], 1);
  EXPECT_EQ(t.vehicle[kColor], -1);
  std::vector<float> v = TargetsToVector(t);
  EXPECT_EQ(v[AttributeLayout::kCategory], 1.0f);
  EXPECT_EQ(v[AttributeLayout::kFlags + 2], 1.0f);
  EXPECT_EQ(v[AttributeLayout::kColor], 0.0f);
}

TEST(ParseAttributeTargetsTest, TheThreeVehicleForms) {
  auto a_or = ParseAttributeTargets("white Audi.");
  ASSERT_OK(a_or.status());
  AttributeTargets a = *a_or;
  EXPECT_EQ(a.category, Category::kVehicle);
  EXPECT_EQ(a.vehicle[kColor], Index(VehicleField::kColor, "white"));
  EXPECT_EQ(a.vehicle[kBrand], Index(VehicleField::kBrand, "Audi"));
  EXPECT_EQ(a.vehicle[kType], NoneClass(VehicleField::kType));

  auto b_or = ParseAttributeTargets("Bus.");
  ASSERT_OK(b_or.status());
  AttributeTargets b = *b_or;
  EXPECT_EQ(b.vehicle[kType], Index(VehicleField::kType, "Bus"));
  EXPECT_EQ(b.vehicle[kColor], NoneClass(VehicleField::kColor));
  EXPECT_EQ(b.vehicle[kBrand], NoneClass(VehicleField::kBrand));

  // A brand whose name has spaces, alone and with a colour; the full stop
  // is optional (the augmented labels drop it).
  auto c_or = ParseAttributeTargets("Balong Heavy Truck.");
  ASSERT_OK(c_or.status());
  AttributeTargets c = *c_or;
  EXPECT_EQ(c.vehicle[kBrand],
            Index(VehicleField::kBrand, "Balong Heavy Truck"));
  EXPECT_EQ(c.vehicle[kColor], NoneClass(VehicleField::kColor));
  auto d_or = ParseAttributeTargets("red Golden Dragon");
  ASSERT_OK(d_or.status());
  AttributeTargets d = *d_or;
  EXPECT_EQ(d.vehicle[kColor], Index(VehicleField::kColor, "red"));
  EXPECT_EQ(d.vehicle[kBrand], Index(VehicleField::kBrand, "Golden Dragon"));

  auto e_or = ParseAttributeTargets("grey SUV.");
  ASSERT_OK(e_or.status());
  AttributeTargets e = *e_or;
  EXPECT_EQ(e.vehicle[kColor], Index(VehicleField::kColor, "grey"));
  EXPECT_EQ(e.vehicle[kType], Index(VehicleField::kType, "SUV"));
  EXPECT_EQ(e.vehicle[kBrand], NoneClass(VehicleField::kBrand));
}

TEST(ParseAttributeTargetsTest, UnknownValuesMapToOtherAndAreCounted) {
  AttributeParseStats stats;
  auto a_or = ParseAttributeTargets("white Tesla.", &stats);
  ASSERT_OK(a_or.status());
  AttributeTargets a = *a_or;
  EXPECT_EQ(a.vehicle[kColor], Index(VehicleField::kColor, "white"));
  EXPECT_EQ(a.vehicle[kBrand], OtherClass(VehicleField::kBrand));
  auto b_or = ParseAttributeTargets("magenta Audi.", &stats);
  ASSERT_OK(b_or.status());
  AttributeTargets b = *b_or;
  EXPECT_EQ(b.vehicle[kColor], OtherClass(VehicleField::kColor));
  EXPECT_EQ(b.vehicle[kBrand], Index(VehicleField::kBrand, "Audi"));
  ASSERT_OK(ParseAttributeTargets("Tesla.", &stats).status());
  EXPECT_EQ(stats.unknown[kBrand].at("Tesla"), 2);
  EXPECT_EQ(stats.unknown[kColor].at("magenta"), 1);
  EXPECT_THAT(stats.Summary(), HasSubstr("2 unknown brand values"));
  EXPECT_THAT(stats.Summary(), HasSubstr("\"magenta\" x1"));
  EXPECT_EQ(AttributeParseStats().Summary(), "");
}

// The vocabularies are car_attribute.json's, in its order.
TEST(AttributeVocabularyTest, MatchesTheCompetitionsCarAttributeFile) {
  REQUIRE_SHARED_PATH(path, "data/track2/a3r/car_attribute.json");
  auto text = common::ReadFile(path);
  ASSERT_OK(text.status());
  auto quoted_list = [](const std::vector<std::string>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      out += (i ? ", \"" : "\"") + v[i] + "\"";
    }
    return out + "]";
  };
  EXPECT_THAT(*text,
              HasSubstr("\"Colors\": " + quoted_list(VehicleFieldVocabulary(
                                             VehicleField::kColor))));
  EXPECT_THAT(*text,
              HasSubstr("\"Types\": " + quoted_list(VehicleFieldVocabulary(
                                            VehicleField::kType))));
  EXPECT_THAT(*text,
              HasSubstr("\"Brands\": " + quoted_list(VehicleFieldVocabulary(
                                             VehicleField::kBrand))));
}

// Every attribute of the competition's 10,000 real validation lines parses,
// none falls outside the vocabularies, and both categories and all three
// vehicle forms occur.
TEST(ParseRecordTargetsTest, ParsesTheCompetitionsRealLabels) {
  REQUIRE_SHARED_PATH(path, "data/track2/open-transmind/infer.txt");
  LabelReaderOptions options;
  options.allow_extra_fields = true;
  auto records = ReadLabelFile(path, options);
  ASSERT_OK(records.status());
  AttributeParseStats stats;
  auto targets = ParseRecordTargets(*records, path, &stats);
  ASSERT_OK(targets.status());
  EXPECT_EQ(stats.Summary(), "");
  int pedestrians = 0, type_only = 0, brand_only = 0, colour_brand = 0;
  for (const AttributeTargets& t : *targets) {
    if (t.category == Category::kPedestrian) {
      ++pedestrians;
      continue;
    }
    const bool colour = t.vehicle[kColor] != NoneClass(VehicleField::kColor);
    const bool brand = t.vehicle[kBrand] != NoneClass(VehicleField::kBrand);
    type_only += !colour && !brand;
    brand_only += !colour && brand;
    colour_brand += colour && brand;
  }
  EXPECT_GT(pedestrians, 0);
  EXPECT_GT(type_only, 0);
  EXPECT_GT(brand_only, 0);
  EXPECT_GT(colour_brand, 0);
}

TEST(ParseRecordTargetsTest, ErrorsNameFileAndLine) {
  std::vector<LabelRecord> records(2);
  records[0].attribute = "white Audi.";
  records[0].line = 1;
  records[1].attribute = "1,0,1";
  records[1].line = 7;
  EXPECT_THAT(ParseRecordTargets(records, "val_label.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("val_label.txt:7: attribute \"1,0,1\"")));
  records.pop_back();
  auto targets_or = ParseRecordTargets(records, "f");
  ASSERT_OK(targets_or.status());
  auto targets = *targets_or;
  EXPECT_EQ(targets.size(), 1u);
}

}  // namespace
}  // namespace eval
