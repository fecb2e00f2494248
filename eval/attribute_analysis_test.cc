#include "eval/attribute_analysis.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eval {
namespace {

using ::common_testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int kFemale = 0;
constexpr int kHat = 7;
constexpr int kColor = static_cast<int>(VehicleField::kColor);
constexpr int kType = static_cast<int>(VehicleField::kType);
constexpr int kBrand = static_cast<int>(VehicleField::kBrand);

// Female, Age18-60, Front, LongSleeve.
const char kWoman[] = "1,0,1,0,1,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0";
// kWoman with Female 0 and Hat 1: two flags differ.
const char kManWithHat[] = "0,0,1,0,1,0,0,1,0,0,0,0,0,0,1,0,0,0,0,0,0";

LabelRecord Record(std::string image, std::string attribute, std::string text,
                   int line) {
  absl::StatusOr<Category> category = ClassifyAttribute(attribute);
  return {std::move(image),
          std::move(attribute),
          std::move(text),
          category.ok() ? *category : Category::kUnspecified,
          line,
          {}};
}

std::vector<LabelRecord> Labels() {
  return {Record("p1.jpg", kWoman, "a woman", 1),
          Record("p2.jpg", kManWithHat, "a man with a hat", 2),
          Record("v1.jpg", "white Audi.", "a white Audi", 3),
          Record("v2.jpg", "white BMW.", "a white BMW", 4),
          Record("v3.jpg", "grey Audi.", "a grey Audi", 5)};
}

// The woman's top-1 differs in two flags; the white Audi's top-1 is a white
// BMW; the BMW's top-1 is a pedestrian; the man's list is empty; the grey
// Audi's top-1 is not in the labels; one text is not in the labels at all.
Submission Predictions() {
  return Submission{{
      {"a woman", {"p2.jpg", "v1.jpg", "p1.jpg"}},
      {"a white Audi", {"v2.jpg", "p1.jpg", "unknown.jpg", "v1.jpg"}},
      {"a white BMW", {"p1.jpg", "v2.jpg"}},
      {"a man with a hat", {}},
      {"not in the labels", {"p1.jpg", "v1.jpg"}},
      {"a grey Audi", {"ghost.jpg"}},
  }};
}

TEST(AnalyzeAttributesTest, CountsWrongCategoryHitsInTheTopTen) {
  auto analysis = AnalyzeAttributes(Labels(), Predictions(), "val.txt");
  ASSERT_OK(analysis);
  const WrongCategoryHits& hits = analysis->wrong_category;
  EXPECT_EQ(hits.returned, 10);  // 3 + 4 + 2 + 0 + 1; the unknown text not
  EXPECT_EQ(hits.wrong, 3);
  EXPECT_EQ(hits.unlabelled, 2);
  EXPECT_EQ(
      hits.wrong_by_query_category[static_cast<int>(Category::kPedestrian)], 1);
  EXPECT_EQ(hits.wrong_by_query_category[static_cast<int>(Category::kVehicle)],
            2);
  EXPECT_EQ(analysis->queries_without_label, 1);
  EXPECT_EQ(WrongCategoryLine(hits),
            "wrong-category hits in top-10: 3 of 10 (30.00%); pedestrian "
            "queries 1, vehicle queries 2; 2 hits not in the labels");
}

TEST(AnalyzeAttributesTest, ComparesTheTopOneFlagByFlag) {
  auto analysis = AnalyzeAttributes(Labels(), Predictions(), "val.txt");
  ASSERT_OK(analysis);
  const Top1Counts& p = analysis->pedestrian_top1;
  EXPECT_EQ(p.queries, 2);
  EXPECT_EQ(p.compared, 1);
  EXPECT_EQ(p.empty, 1);
  EXPECT_EQ(p.other_category + p.unlabelled, 0);
  for (int f = 0; f < kNumPedestrianFlags; ++f) {
    const FlagErrors& e = analysis->flags[f];
    SCOPED_TRACE(kPedestrianFlagNames[f]);
    EXPECT_EQ(e.differ, f == kFemale || f == kHat ? 1 : 0);
    EXPECT_EQ(e.query_1_hit_0, f == kFemale ? 1 : 0);
    EXPECT_EQ(e.query_0_hit_1, f == kHat ? 1 : 0);
  }
}

TEST(AnalyzeAttributesTest, ComparesTheTopOneFieldByField) {
  auto analysis = AnalyzeAttributes(Labels(), Predictions(), "val.txt");
  ASSERT_OK(analysis);
  const Top1Counts& v = analysis->vehicle_top1;
  EXPECT_EQ(v.queries, 3);
  EXPECT_EQ(v.compared, 1);
  EXPECT_EQ(v.other_category, 1);
  EXPECT_EQ(v.unlabelled, 1);
  EXPECT_EQ(analysis->fields[kColor].differ, 0);
  EXPECT_EQ(analysis->fields[kType].differ, 0);  // none and none
  EXPECT_EQ(analysis->fields[kBrand].differ, 1);
  EXPECT_THAT(TopConfusions(analysis->fields[kBrand], VehicleField::kBrand, 3),
              ElementsAre("Audi -> BMW x1"));
  EXPECT_THAT(TopConfusions(analysis->fields[kColor], VehicleField::kColor, 3),
              IsEmpty());
}

TEST(AnalyzeAttributesTest, UsesTheFirstAttributeOfATextAndOfAnImage) {
  // "a person" is labelled first with kWoman, then with kManWithHat; p1.jpg
  // first as kWoman, then as a man.
  const std::vector<LabelRecord> records = {
      Record("p1.jpg", kWoman, "a person", 1),
      Record("p2.jpg", kManWithHat, "a person", 2),
      Record("p1.jpg", kManWithHat, "someone", 3)};
  auto analysis = AnalyzeAttributes(
      records, Submission{{{"a person", {"p1.jpg"}}}}, "val.txt");
  ASSERT_OK(analysis);
  EXPECT_EQ(analysis->pedestrian_top1.compared, 1);
  for (const FlagErrors& e : analysis->flags) EXPECT_EQ(e.differ, 0);
}

TEST(AnalyzeAttributesTest, ReadsOnlyTheFirstTenNames) {
  std::vector<std::string> names(10, "p1.jpg");
  names.push_back("v1.jpg");  // 11th: of the other category, not read
  auto analysis =
      AnalyzeAttributes(Labels(), Submission{{{"a woman", names}}}, "val.txt");
  ASSERT_OK(analysis);
  EXPECT_EQ(analysis->wrong_category.returned, 10);
  EXPECT_EQ(analysis->wrong_category.wrong, 0);
}

TEST(AnalyzeAttributesTest, NamesTheLineOfAnAttributeThatDoesNotParse) {
  std::vector<LabelRecord> records = Labels();
  records.push_back({"bad.jpg", "1,0", "bad", Category::kPedestrian, 7, {}});
  EXPECT_THAT(
      AnalyzeAttributes(records, Predictions(), "val.txt"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("val.txt:7")));
}

TEST(TopConfusionsTest, MostFrequentFirstThenInClassOrder) {
  const auto& colours = VehicleFieldVocabulary(VehicleField::kColor);
  auto c = [&](const std::string& name) {
    return static_cast<int>(std::find(colours.begin(), colours.end(), name) -
                            colours.begin());
  };
  FieldErrors errors;
  errors.confusions[{c("white"), c("grey")}] = 5;
  errors.confusions[{c("black"), c("white")}] = 2;
  errors.confusions[{c("blue"), c("black")}] = 2;
  errors.confusions[{c("red"), NoneClass(VehicleField::kColor)}] = 1;
  EXPECT_THAT(
      TopConfusions(errors, VehicleField::kColor, 3),
      ElementsAre("white -> grey x5", "black -> white x2", "blue -> black x2"));
  EXPECT_THAT(TopConfusions(errors, VehicleField::kColor, 10),
              ElementsAre("white -> grey x5", "black -> white x2",
                          "blue -> black x2", "red -> none x1"));
}

TEST(AttributeErrorRatesTest, OneRowPerFlagThenPerVehicleField) {
  auto analysis = AnalyzeAttributes(Labels(), Predictions(), "val.txt");
  ASSERT_OK(analysis);
  const std::vector<AttributeErrorRate> rows = AttributeErrorRates(*analysis);
  ASSERT_EQ(static_cast<int>(rows.size()),
            kNumPedestrianFlags + kNumVehicleFields);
  EXPECT_EQ(rows[kFemale].name, "Female");
  EXPECT_FALSE(rows[kFemale].vehicle);
  EXPECT_EQ(rows[kFemale].compared, 1);
  EXPECT_EQ(rows[kFemale].errors, 1);
  EXPECT_DOUBLE_EQ(rows[kFemale].rate, 1.0);
  EXPECT_EQ(rows[kFemale].query_1_hit_0, 1);
  EXPECT_DOUBLE_EQ(rows[1].rate, 0.0);
  const AttributeErrorRate& brand = rows[kNumPedestrianFlags + kBrand];
  EXPECT_EQ(brand.name, "brand");
  EXPECT_TRUE(brand.vehicle);
  EXPECT_EQ(brand.compared, 1);
  EXPECT_EQ(brand.errors, 1);
}

TEST(FormatAttributeTableTest, AlignedRowsWithConfusions) {
  auto analysis = AnalyzeAttributes(Labels(), Predictions(), "val.txt");
  ASSERT_OK(analysis);
  const std::string table = FormatAttributeTable(*analysis);
  EXPECT_THAT(table, HasSubstr("top-1 of pedestrian queries: 1 compared, 0 of "
                               "the other category, 0 unlabelled, 1 empty (of "
                               "2)\n"));
  EXPECT_THAT(table,
              HasSubstr("top-1 of vehicle queries: 1 compared, 1 of the "
                        "other category, 1 unlabelled, 0 empty (of 3)\n"));
  EXPECT_THAT(table, HasSubstr("1 queries not in the labels (skipped)\n"));
  EXPECT_THAT(table,
              HasSubstr("\nattribute           compared  errors     rate   "
                        "q1/h0   q0/h1  most frequent confusions\n"));
  EXPECT_THAT(table,
              HasSubstr("\nFemale                     1       1  100.00%       "
                        "1       0\n"));
  EXPECT_THAT(table,
              HasSubstr("\nHat                        1       1  100.00%       "
                        "0       1\n"));
  EXPECT_THAT(table,
              HasSubstr("\nbrand                      1       1  100.00%       "
                        "-       -  Audi -> BMW x1\n"));
  EXPECT_THAT(table,
              HasSubstr("\ncolour                     1       0    0.00%       "
                        "-       -\n"));
}

}  // namespace
}  // namespace eval
