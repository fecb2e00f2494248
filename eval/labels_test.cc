#include "eval/labels.h"

#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/status_matchers.h"
#include "common/test_data.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eval {
namespace {

using ::common_testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kF[] = "1,0,1,0,0,0,1,0,0,0,1,0,0,1,0,0,0,0,0,0,0";   // female
constexpr char kF2[] = "1,0,1,0,0,0,1,0,0,0,1,0,0,1,0,0,1,0,0,0,0";  // + logo
constexpr char kM2[] = "0,0,1,0,0,0,1,0,0,0,1,0,0,1,0,0,1,0,0,0,0";  // male

std::string Line(const std::string& image, const std::string& attribute,
                 const std::string& text) {
  return image + "$" + attribute + "$" + text + "\n";
}

TEST(LabelsTest, ParsesVehicleAndPedestrianLines) {
  const std::string contents =
      Line("a.jpg", "white Audi.", "This is a white Audi.") +
      Line("000055.jpg", kF, "A female pedestrian.");
  auto records = ParseLabels(contents, "val.txt");
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].image, "a.jpg");
  EXPECT_EQ((*records)[0].attribute, "white Audi.");
  EXPECT_EQ((*records)[0].text, "This is a white Audi.");
  EXPECT_EQ((*records)[0].category, Category::kVehicle);
  EXPECT_EQ((*records)[0].line, 1);
  EXPECT_EQ((*records)[1].category, Category::kPedestrian);
  EXPECT_EQ((*records)[1].line, 2);
  EXPECT_THAT((*records)[1].extra_fields, IsEmpty());
}

TEST(LabelsTest, HandlesBomCrlfAndTrailingBlankLines) {
  const std::string contents =
      "\xEF\xBB\xBF"
      "a.jpg$Bus.$A bus.\r\nb.jpg$Bus.$A bus. \r\n\r\n\n";
  auto records = ParseLabels(contents, "x.txt");
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].image, "a.jpg");   // BOM removed
  EXPECT_EQ((*records)[0].text, "A bus.");   // CR removed
  EXPECT_EQ((*records)[1].text, "A bus. ");  // other bytes kept
}

TEST(LabelsTest, NoTrailingNewlineIsFine) {
  auto records = ParseLabels("a.jpg$Bus.$A bus.", "x.txt");
  ASSERT_OK(records);
  EXPECT_EQ(records->size(), 1u);
}

TEST(LabelsTest, ErrorsNameFileAndLine) {
  const std::string good = Line("a.jpg", "Bus.", "A bus.");
  EXPECT_THAT(
      ParseLabels(good + "b.jpg$Bus.\n", "val.txt"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("val.txt:2: expected 3 '$'-separated fields")));
  EXPECT_THAT(ParseLabels(good + good + "b.jpg$Bus.$x$y\n", "val.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("val.txt:3: expected 3")));
  EXPECT_THAT(ParseLabels("$Bus.$x\n", "val.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("val.txt:1: field 1 (image) is empty")));
  EXPECT_THAT(ParseLabels(good + "b.jpg$$x\n", "val.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("val.txt:2: field 2 (attribute) is empty")));
  EXPECT_THAT(ParseLabels("b.jpg$Bus.$\r\n", "val.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("val.txt:1: field 3 (text) is empty")));
  EXPECT_THAT(ParseLabels(good + "\n" + good, "val.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("val.txt:2: empty line")));
  EXPECT_THAT(
      ParseLabels(good + "b.jpg$Bus.$bad \xFF text\n", "val.txt"),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("val.txt:2: invalid UTF-8 at byte offset 15 of the line")));
}

TEST(LabelsTest, RejectsMalformedPedestrianAttributes) {
  // 20 flags.
  EXPECT_THAT(
      ParseLabels(Line("1.jpg", "1,0,1,0,0,0,1,0,0,0,1,0,0,1,0,0,0,0,0,0", "t"),
                  "p.txt"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("p.txt:1: pedestrian attribute \"1,0,1,0,0,0,1,0,0,0,"
                         "1,0,0,1,0,0,0,0,0,0\" has 20 comma-separated flags, "
                         "expected 21")));
  // A 2 in flag 9 (Glasses).
  EXPECT_THAT(
      ParseLabels(
          Line("1.jpg", "1,0,1,0,0,0,1,0,2,0,1,0,0,1,0,0,0,0,0,0,0", "t"),
          "p.txt"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("p.txt:1: pedestrian attribute flag 9 (Glasses) is "
                         "\"2\", expected 0 or 1")));
  // Spaces around a flag.
  EXPECT_THAT(
      ParseLabels(
          Line("1.jpg", "1,0,1,0,0,0,1,0,0,0,1,0,0,1,0,0,0,0,0,0, 0", "t"),
          "p.txt"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("flag 21")));
  // Digits only: pedestrian-looking, one flag.
  EXPECT_THAT(ParseLabels(Line("1.jpg", "101", "t"), "p.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("has 1 comma-separated flags")));
}

TEST(LabelsTest, ExtraFieldsOnlyWhenAllowed) {
  const std::string line = "a.jpg$Bus.$A bus.$a.jpg$b.jpg\n";
  EXPECT_THAT(ParseLabels(line, "infer.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("infer.txt:1: expected 3")));
  LabelReaderOptions options;
  options.allow_extra_fields = true;
  auto records = ParseLabels(line, "infer.txt", options);
  ASSERT_OK(records);
  EXPECT_THAT((*records)[0].extra_fields, ElementsAre("a.jpg", "b.jpg"));
  EXPECT_THAT(ParseLabels("a.jpg$Bus.$A bus.$$b.jpg\n", "infer.txt", options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("infer.txt:1: field 4 (extra) is empty")));
}

TEST(LabelsTest, ReadLabelFileMissingIsNotFound) {
  EXPECT_THAT(ReadLabelFile("/nonexistent/val_label.txt"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("/nonexistent/val_label.txt")));
}

TEST(LabelsTest, ReadLabelFileUsesPathInErrors) {
  const std::string path = ::testing::TempDir() + "/labels_bad.txt";
  ASSERT_OK(common::WriteFileAtomically(path, "a.jpg$Bus.$t\nb.jpg$x\n"));
  EXPECT_THAT(ReadLabelFile(path), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr(path + ":2:")));
}

TEST(QueriesTest, KeepsTextsDuplicatesAndInnerEmptyLines) {
  auto queries = ParseQueries(
      "\xEF\xBB\xBF A white Audi. \r\nA bus.\n\nA bus.\n", "test_text.txt");
  ASSERT_OK(queries);
  EXPECT_THAT(*queries, ElementsAre(" A white Audi. ", "A bus.", "", "A bus."));
}

TEST(QueriesTest, TrailingNewlineAddsNoQueryButAnEmptyLastLineDoes) {
  auto one = ParseQueries("A bus.\n", "q");
  ASSERT_OK(one);
  EXPECT_THAT(*one, ElementsAre("A bus."));
  auto no_newline = ParseQueries("A bus.", "q");
  ASSERT_OK(no_newline);
  EXPECT_THAT(*no_newline, ElementsAre("A bus."));
  auto two = ParseQueries("A bus.\n\n", "q");
  ASSERT_OK(two);
  EXPECT_THAT(*two, ElementsAre("A bus.", ""));
  auto none = ParseQueries("", "q");
  ASSERT_OK(none);
  EXPECT_THAT(*none, IsEmpty());
}

TEST(QueriesTest, InvalidUtf8NamesLine) {
  EXPECT_THAT(ParseQueries("ok\nbad \xC0\xAF\n", "test_text.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("test_text.txt:2: invalid UTF-8 at byte "
                                 "offset 4 of the line")));
}

TEST(RelevanceTest, ParseAndName) {
  auto exact = ParseRelevance("exact");
  ASSERT_OK(exact);
  EXPECT_EQ(*exact, Relevance::kExact);
  auto subset = ParseRelevance("pedestrian_subset");
  ASSERT_OK(subset);
  EXPECT_EQ(*subset, Relevance::kPedestrianSubset);
  EXPECT_STREQ(RelevanceName(Relevance::kPedestrianSubset),
               "pedestrian_subset");
  EXPECT_THAT(ParseRelevance("subset"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("pedestrian_subset")));
}

TEST(RelevanceTest, PedestrianSubsetRule) {
  // The image has every 1-flag of the query plus UpperLogo: relevant.
  EXPECT_TRUE(IsRelevant(Relevance::kPedestrianSubset, kF, kF2));
  EXPECT_FALSE(IsRelevant(Relevance::kExact, kF, kF2));
  // Not the other way round: the query's UpperLogo is missing in the image.
  EXPECT_FALSE(IsRelevant(Relevance::kPedestrianSubset, kF2, kF));
  // Female flag differs (query male has no 1 that the female image lacks).
  EXPECT_FALSE(IsRelevant(Relevance::kPedestrianSubset, kM2, kF2));
  // Vehicles: exact only.
  EXPECT_TRUE(IsRelevant(Relevance::kPedestrianSubset, "Bus.", "Bus."));
  EXPECT_FALSE(IsRelevant(Relevance::kPedestrianSubset, "Bus.", "white Bus."));
  EXPECT_FALSE(IsRelevant(Relevance::kPedestrianSubset, kF, "Bus."));
}

std::vector<LabelRecord> SampleRecords() {
  const std::string contents =
      Line("v1.jpg", "white Audi.", "This is a white Audi.") +
      Line("v2.jpg", "white Audi.", "A white Audi.") +
      Line("p1.jpg", kF, "A woman with a shoulder bag.") +
      Line("p2.jpg", kF2, "A woman with a shoulder bag and a logo.") +
      Line("v3.jpg", "white Audi.", "This is a white Audi.") +
      Line("p3.jpg", kM2, "A man with a logo.") +
      Line("p2.jpg", kF2, "A woman with a shoulder bag.") +  // second text
      Line("v4.jpg", "Bus.", "A bus.");
  auto records = ParseLabels(contents, "sample");
  EXPECT_OK(records);
  return records.ok() ? *records : std::vector<LabelRecord>();
}

TEST(RelevanceIndexTest, ExactAndSubsetLists) {
  const std::vector<LabelRecord> records = SampleRecords();
  const RelevanceIndex exact(records, Relevance::kExact);
  EXPECT_THAT(exact.images(),
              ElementsAre("v1.jpg", "v2.jpg", "p1.jpg", "p2.jpg", "v3.jpg",
                          "p3.jpg", "v4.jpg"));
  EXPECT_THAT(exact.RelevantImages("white Audi."),
              ElementsAre("v1.jpg", "v2.jpg", "v3.jpg"));
  EXPECT_THAT(exact.RelevantImages(kF), ElementsAre("p1.jpg"));
  EXPECT_THAT(exact.RelevantImages("red Audi."), IsEmpty());
  EXPECT_THAT(exact.RelevantImageIndices(kF2), ElementsAre(3));
  const RelevanceIndex subset(records, Relevance::kPedestrianSubset);
  EXPECT_THAT(subset.RelevantImages(kF), ElementsAre("p1.jpg", "p2.jpg"));
  EXPECT_THAT(subset.RelevantImages(kF2), ElementsAre("p2.jpg"));
  EXPECT_THAT(subset.RelevantImages(kM2), ElementsAre("p3.jpg"));
  EXPECT_THAT(subset.RelevantImages("Bus."), ElementsAre("v4.jpg"));
  // A query attribute absent from the gallery still matches by subset.
  EXPECT_THAT(
      subset.RelevantImages("1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0"),
      ElementsAre("p1.jpg", "p2.jpg"));
}

TEST(GroupByTextTest, DistinctTextsInOrderWithRelevantImages) {
  const std::vector<TextGroup> groups =
      GroupByText(SampleRecords(), Relevance::kExact);
  ASSERT_EQ(groups.size(), 6u);
  EXPECT_EQ(groups[0].text, "This is a white Audi.");
  EXPECT_EQ(groups[0].category, Category::kVehicle);
  EXPECT_THAT(groups[0].relevant_images,
              ElementsAre("v1.jpg", "v2.jpg", "v3.jpg"));
  EXPECT_EQ(groups[1].text, "A white Audi.");
  EXPECT_THAT(groups[1].relevant_images,
              ElementsAre("v1.jpg", "v2.jpg", "v3.jpg"));
  // Labelled with two attributes: the union, in gallery order.
  EXPECT_EQ(groups[2].text, "A woman with a shoulder bag.");
  EXPECT_EQ(groups[2].category, Category::kPedestrian);
  EXPECT_THAT(groups[2].attributes, ElementsAre(kF, kF2));
  EXPECT_THAT(groups[2].relevant_images, ElementsAre("p1.jpg", "p2.jpg"));
  EXPECT_EQ(groups[3].text, "A woman with a shoulder bag and a logo.");
  EXPECT_THAT(groups[3].relevant_images, ElementsAre("p2.jpg"));
  EXPECT_EQ(groups[4].text, "A man with a logo.");
  EXPECT_THAT(groups[4].relevant_images, ElementsAre("p3.jpg"));
  EXPECT_EQ(groups[5].text, "A bus.");
  EXPECT_THAT(groups[5].relevant_images, ElementsAre("v4.jpg"));

  const std::vector<TextGroup> subset =
      GroupByText(SampleRecords(), Relevance::kPedestrianSubset);
  ASSERT_EQ(subset.size(), 6u);
  // "A man with a logo." (male): the female p2 also has a logo, but the
  // Female flag differs.
  EXPECT_THAT(subset[4].relevant_images, ElementsAre("p3.jpg"));
  EXPECT_THAT(subset[0].relevant_images,
              ElementsAre("v1.jpg", "v2.jpg", "v3.jpg"));
}

TEST(RealDataTest, OfficialInferTxtParsesWithExtraFields) {
  REQUIRE_SHARED_PATH(path, "data/track2/open-transmind/infer.txt");
  // Strict three fields: line 1 already carries the baseline's top 10.
  EXPECT_THAT(ReadLabelFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(":1: expected 3 '$'-separated fields "
                                 "(image$attribute$text), got 13")));
  LabelReaderOptions options;
  options.allow_extra_fields = true;
  auto records = ReadLabelFile(path, options);
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 10000u);
  int pedestrians = 0;
  int vehicles = 0;
  for (const LabelRecord& r : *records) {
    ASSERT_EQ(r.extra_fields.size(), 10u) << "line " << r.line;
    if (r.category == Category::kPedestrian) ++pedestrians;
    if (r.category == Category::kVehicle) ++vehicles;
  }
  EXPECT_EQ(pedestrians, 6587);
  EXPECT_EQ(vehicles, 3413);
  EXPECT_EQ((*records)[0].image, "kcbluaihml.jpg");
  EXPECT_EQ((*records)[0].attribute, "white Audi.");
  EXPECT_EQ((*records)[0].text, "This is a white Audi.");
  EXPECT_EQ(records->back().line, 10000);
  const std::vector<TextGroup> groups =
      GroupByText(*records, Relevance::kExact);
  EXPECT_EQ(groups.size(), 5325u);
  EXPECT_EQ(groups[0].text, "This is a white Audi.");
  EXPECT_FALSE(groups[0].relevant_images.empty());
}

}  // namespace
}  // namespace eval
