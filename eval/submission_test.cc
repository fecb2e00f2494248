#include "eval/submission.h"

#include <filesystem>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eval {
namespace {

using ::common_testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

Submission Sample() {
  Submission s;
  s.results.push_back({"This is a white Audi.", {"a.jpg", "b.jpg", "a.jpg"}});
  // Non-ASCII, quotes, backslash, a tab and '$' survive JSON.
  s.results.push_back(
      {"Caf\xC3\xA9 \"quoted\" back\\slash\ttab $ \xF0\x9F\x9A\x97",
       {"c.jpg"}});
  s.results.push_back({"", {}});
  return s;
}

TEST(SubmissionTest, JsonRoundTrip) {
  const std::string path = ::testing::TempDir() + "/submission_rt.json";
  ASSERT_OK(WriteSubmission(path, Sample()));
  auto back = ReadSubmission(path);
  ASSERT_OK(back);
  ASSERT_EQ(back->results.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back->results[i].text, Sample().results[i].text);
    EXPECT_EQ(back->results[i].image_names, Sample().results[i].image_names);
  }
}

TEST(SubmissionTest, JsonLayoutMatchesTheOfficialOne) {
  Submission s;
  s.results.push_back({"A bus.", {"x.jpg"}});
  auto json = SubmissionToJson(s);
  ASSERT_OK(json);
  // "text" before "image_names", UTF-8 not escaped.
  EXPECT_EQ(*json,
            "{\n"
            "    \"results\": [\n"
            "        {\n"
            "            \"text\": \"A bus.\",\n"
            "            \"image_names\": [\n"
            "                \"x.jpg\"\n"
            "            ]\n"
            "        }\n"
            "    ]\n"
            "}\n");
  s.results[0].text = "caf\xC3\xA9";
  auto utf8 = SubmissionToJson(s);
  ASSERT_OK(utf8);
  EXPECT_THAT(*utf8, HasSubstr("\"caf\xC3\xA9\""));
}

TEST(SubmissionTest, ParsesEscapesAndIgnoresUnknownKeys) {
  auto s = ParseSubmission(
      R"({"version": 1, "results": [{"text": "caf\u00e9 \ud83d\ude97",
          "image_names": ["a.jpg"], "score": [0.5]}]})",
      "sub.json");
  ASSERT_OK(s);
  ASSERT_EQ(s->results.size(), 1u);
  EXPECT_EQ(s->results[0].text, "caf\xC3\xA9 \xF0\x9F\x9A\x97");
  EXPECT_THAT(s->results[0].image_names, ElementsAre("a.jpg"));
}

TEST(SubmissionTest, StructureErrorsNameTheEntry) {
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(ParseSubmission("{\"results\": [", "sub.json"),
              StatusIs(kInvalid, StartsWith("sub.json: not valid JSON: ")));
  EXPECT_THAT(
      ParseSubmission("[]", "sub.json"),
      StatusIs(kInvalid, HasSubstr("sub.json: top level: expected an "
                                   "object with \"results\", got array")));
  EXPECT_THAT(ParseSubmission("{}", "sub.json"),
              StatusIs(kInvalid, HasSubstr("no \"results\" key")));
  EXPECT_THAT(
      ParseSubmission(R"({"results": {}})", "sub.json"),
      StatusIs(kInvalid, HasSubstr("results: expected an array, got object")));
  EXPECT_THAT(
      ParseSubmission(R"({"results": [{"text": "a", "image_names": []}, 3]})",
                      "sub.json"),
      StatusIs(kInvalid,
               HasSubstr("results[1]: expected an object, got number")));
  EXPECT_THAT(
      ParseSubmission(R"({"results": [{"image_names": []}]})", "sub.json"),
      StatusIs(kInvalid, HasSubstr("results[0]: no \"text\" key")));
  EXPECT_THAT(
      ParseSubmission(R"({"results": [{"text": 5, "image_names": []}]})",
                      "sub.json"),
      StatusIs(kInvalid,
               HasSubstr("results[0].text: expected a string, got number")));
  EXPECT_THAT(
      ParseSubmission(R"({"results": [{"text": "a"}]})", "sub.json"),
      StatusIs(kInvalid, HasSubstr("results[0]: no \"image_names\" key")));
  EXPECT_THAT(
      ParseSubmission(
          R"({"results": [{"text": "a", "image_names": ["x.jpg", null]}]})",
          "sub.json"),
      StatusIs(kInvalid, HasSubstr("results[0].image_names[1]: expected a "
                                   "string, got null")));
  EXPECT_THAT(
      ParseSubmission(R"({"results": [{"text": "a", "image_names": [""]}]})",
                      "sub.json"),
      StatusIs(kInvalid, HasSubstr("results[0].image_names[0]: empty image "
                                   "name")));
}

TEST(SubmissionTest, InvalidUtf8IsRejectedOnReadAndWrite) {
  // Raw 0xFF inside a JSON string; the message escapes it.
  auto parsed = ParseSubmission(
      "{\"results\": [{\"text\": \"a\xFF\", \"image_names\": []}]}",
      "sub.json");
  EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("sub.json: not valid JSON")));
  EXPECT_THAT(parsed.status().message(), ::testing::Not(HasSubstr("\xFF")));
  EXPECT_THAT(parsed.status().message(), HasSubstr("UTF-8"));

  Submission bad = Sample();
  bad.results[1].text = "ok \xC3";
  const std::string path = ::testing::TempDir() + "/submission_bad.json";
  std::filesystem::remove(path);
  EXPECT_THAT(WriteSubmission(path, bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("results[1].text: invalid UTF-8 at byte "
                                 "offset 3")));
  EXPECT_FALSE(std::filesystem::exists(path));  // nothing half-written
  bad = Sample();
  bad.results[0].image_names[2] = "\xED\xA0\x80.jpg";
  EXPECT_THAT(SubmissionToJson(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("results[0].image_names[2]")));
}

TEST(SubmissionTest, MissingFileIsNotFound) {
  EXPECT_THAT(ReadSubmission("/nonexistent/sub.json"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("/nonexistent/sub.json")));
}

TEST(GroundTruthTest, RoundTrip) {
  const std::vector<GroundTruthEntry> entries = {
      {"This is a white Audi.", {"a.jpg", "b.jpg"}},
      {"A query without relevant images.", {}},
      {"Caf\xC3\xA9.", {"c.jpg"}},
      {"", {}},  // empty text, last line
  };
  auto text = FormatGroundTruth(entries);
  ASSERT_OK(text);
  EXPECT_EQ(*text,
            "This is a white Audi.$a.jpg$b.jpg\n"
            "A query without relevant images.\n"
            "Caf\xC3\xA9.$c.jpg\n"
            "\n");
  const std::string path = ::testing::TempDir() + "/gt_rt.txt";
  ASSERT_OK(WriteGroundTruth(path, entries));
  auto back = ReadGroundTruth(path);
  ASSERT_OK(back);
  ASSERT_EQ(back->size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ((*back)[i].text, entries[i].text) << i;
    EXPECT_EQ((*back)[i].relevant_images, entries[i].relevant_images) << i;
  }
}

TEST(GroundTruthTest, ParsesCrlfBomAndKeepsTextBytes) {
  auto gt =
      ParseGroundTruth("\xEF\xBB\xBF A bus. $a.jpg\r\nx$b.jpg$c.jpg", "gt.txt");
  ASSERT_OK(gt);
  ASSERT_EQ(gt->size(), 2u);
  EXPECT_EQ((*gt)[0].text, " A bus. ");
  EXPECT_THAT((*gt)[0].relevant_images, ElementsAre("a.jpg"));
  EXPECT_THAT((*gt)[1].relevant_images, ElementsAre("b.jpg", "c.jpg"));
  auto empty = ParseGroundTruth("", "gt.txt");
  ASSERT_OK(empty);
  EXPECT_THAT(*empty, IsEmpty());
}

TEST(GroundTruthTest, ReadErrorsNameFileAndLine) {
  EXPECT_THAT(ParseGroundTruth("a$x.jpg\nb$x.jpg$$y.jpg\n", "gt.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("gt.txt:2: image name 2 (field 3) is empty")));
  EXPECT_THAT(ParseGroundTruth("a\nb\n\xC3(\n", "gt.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("gt.txt:3: invalid UTF-8")));
}

TEST(GroundTruthTest, WriteRejectsWhatTheFormatCannotCarry) {
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(FormatGroundTruth({{"ok", {}}, {"price $5", {}}}),
              StatusIs(kInvalid, HasSubstr("ground truth entry 1: text "
                                           "contains '$'")));
  EXPECT_THAT(FormatGroundTruth({{"two\nlines", {}}}),
              StatusIs(kInvalid, HasSubstr("entry 0: text contains")));
  EXPECT_THAT(FormatGroundTruth({{"t", {"a.jpg", ""}}}),
              StatusIs(kInvalid, HasSubstr("entry 0: image 1 is an empty "
                                           "name")));
  EXPECT_THAT(FormatGroundTruth({{"t", {"a\r.jpg"}}}),
              StatusIs(kInvalid, HasSubstr("entry 0: image 0 contains")));
  EXPECT_THAT(FormatGroundTruth({{"\xFF", {}}}),
              StatusIs(kInvalid, HasSubstr("entry 0: text: invalid UTF-8")));
  // Readers drop a byte order mark at the start of the file, so the first
  // text cannot start with one; later texts can.
  EXPECT_THAT(FormatGroundTruth({{"\xEF\xBB\xBFtext", {"a.jpg"}}}),
              StatusIs(kInvalid, HasSubstr("entry 0: text starts with a byte "
                                           "order mark")));
  auto later = FormatGroundTruth({{"t", {}}, {"\xEF\xBB\xBFtext", {}}});
  ASSERT_OK(later);
  auto read = ParseGroundTruth(*later, "gt.txt");
  ASSERT_OK(read);
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[1].text, "\xEF\xBB\xBFtext");
  const std::string path = ::testing::TempDir() + "/gt_bad.txt";
  ASSERT_OK(common::WriteFileAtomically(path, "old\n"));
  EXPECT_THAT(WriteGroundTruth(path, {{"a$b", {}}}),
              StatusIs(kInvalid, HasSubstr("not writing " + path)));
  auto kept = common::ReadFile(path);
  ASSERT_OK(kept);
  EXPECT_EQ(*kept, "old\n");
}

TEST(SubmissionTest, TopKOverlapCountsSharedNamesPerQuery) {
  Submission a, b;
  a.results = {{"q1", {"a", "b", "c"}}, {"q2", {"d", "e"}}};
  b.results = {{"q1", {"c", "x", "a"}}, {"q2", {"e", "d"}}};
  auto overlap = TopKOverlap(a, b, 10);
  ASSERT_TRUE(overlap.ok()) << overlap.status();
  EXPECT_DOUBLE_EQ(*overlap, 4.0 / 5.0);  // a, c of q1; d, e of q2
  // Only the first k of each list count.
  EXPECT_DOUBLE_EQ(*TopKOverlap(a, b, 1), 0.0);
  EXPECT_DOUBLE_EQ(*TopKOverlap(a, a, 10), 1.0);
  b.results[1].text = "other";
  EXPECT_EQ(TopKOverlap(a, b, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  b.results.pop_back();
  EXPECT_EQ(TopKOverlap(a, b, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace eval
