#include "eval/metric.h"

#include <array>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/status_matchers.h"
#include "common/test_data.h"
#include "eval/labels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eval {
namespace {

constexpr double kE = kOfficialHitOffset;

QueryScore Score(const std::vector<std::string>& ranked,
                 const std::unordered_set<std::string>& relevant,
                 double hit_offset = kOfficialHitOffset) {
  RankingOptions options;
  options.hit_offset = hit_offset;
  return ScoreRankedNames(ranked, relevant, options);
}

TEST(MetricTest, RelevantAtRanksTwoAndFive) {
  const std::vector<std::string> ranked = {"x1", "a",  "x2", "x3", "b",
                                           "x4", "x5", "x6", "x7", "x8"};
  // Textbook form: (1/2 + 2/5) / 2 = 0.45, divided by the 2 hits, not by the
  // 3 relevant images.
  const QueryScore plain = Score(ranked, {"a", "b", "never_returned"}, 0.0);
  EXPECT_DOUBLE_EQ(plain.average_precision, (1.0 / 2 + 2.0 / 5) / 2);
  EXPECT_EQ(plain.num_hits, 2);
  EXPECT_EQ(plain.first_hit_rank, 2);
  // Official form: hits start at 1e-6.
  const QueryScore official = Score(ranked, {"a", "b", "never_returned"});
  EXPECT_EQ(official.average_precision,
            ((1 + kE) / 2 + (2 + kE) / 5) / (2 + kE));
  EXPECT_NE(official.average_precision, plain.average_precision);
  EXPECT_NEAR(official.average_precision, 0.45, 1e-6);
}

TEST(MetricTest, NoHitScoresZero) {
  const QueryScore score = Score(
      {"x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10"}, {"a"});
  EXPECT_EQ(score.average_precision, 0.0);
  EXPECT_EQ(score.num_hits, 0);
  EXPECT_EQ(score.first_hit_rank, 0);
  EXPECT_EQ(Score({}, {"a"}, 0.0).average_precision, 0.0);  // no 0/0
}

TEST(MetricTest, PerfectListScoresOne) {
  std::vector<std::string> ranked;
  std::unordered_set<std::string> relevant;
  for (int i = 0; i < 10; ++i) {
    ranked.push_back(std::to_string(i));
    relevant.insert(std::to_string(i));
  }
  EXPECT_DOUBLE_EQ(Score(ranked, relevant, 0.0).average_precision, 1.0);
  // The official offset lifts a perfect list a little above 1:
  // (10 + 1e-6 * H(10)) / (10 + 1e-6), H = harmonic number.
  double harmonic = 0;
  for (int r = 1; r <= 10; ++r) harmonic += 1.0 / r;
  EXPECT_NEAR(Score(ranked, relevant).average_precision,
              1.0 + kE * (harmonic - 1) / 10, 1e-12);
  EXPECT_GT(Score(ranked, relevant).average_precision, 1.0);
  // A single hit at rank 1 is also a perfect 1: AP divides by hits found.
  EXPECT_DOUBLE_EQ(Score({"a", "x"}, {"a", "b", "c"}).average_precision, 1.0);
}

TEST(MetricTest, OnlyHitAtRankTen) {
  const QueryScore score =
      Score({"x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "a"}, {"a"});
  EXPECT_NEAR(score.average_precision, 0.1, 1e-7);
  EXPECT_EQ(score.first_hit_rank, 10);
}

TEST(MetricTest, DuplicatesAreCountedEachTime) {
  // Like the official scorer: "a" at ranks 1 and 3 counts twice:
  // (1/1 + 2/3) / 2.
  const QueryScore twice = Score({"a", "x", "a"}, {"a"}, 0.0);
  EXPECT_DOUBLE_EQ(twice.average_precision, (1.0 + 2.0 / 3) / 2);
  EXPECT_EQ(twice.num_hits, 2);
  // Repeating one relevant name ten times gives a perfect score.
  const std::vector<std::string> ten_a(10, "a");
  EXPECT_DOUBLE_EQ(Score(ten_a, {"a"}, 0.0).average_precision, 1.0);
  EXPECT_EQ(Score(ten_a, {"a"}).num_hits, 10);
}

TEST(MetricTest, ShorterListsAreNotPadded) {
  // Two names, hit at rank 2: (1/2) / 1.
  EXPECT_DOUBLE_EQ(Score({"x", "a"}, {"a"}, 0.0).average_precision, 0.5);
  // Hits at ranks 1 and 3 of 3 names.
  EXPECT_DOUBLE_EQ(Score({"a", "x", "b"}, {"a", "b"}, 0.0).average_precision,
                   (1.0 + 2.0 / 3) / 2);
}

TEST(MetricTest, OnlyTheFirstTenAreRead) {
  std::vector<std::string> ranked(10, "x");
  ranked.push_back("a");  // rank 11
  const QueryScore score = Score(ranked, {"a"});
  EXPECT_EQ(score.average_precision, 0.0);
  EXPECT_EQ(score.first_hit_rank, 0);
  RankingOptions top3;
  top3.cutoff = 3;
  top3.hit_offset = 0.0;
  EXPECT_EQ(
      ScoreRankedNames({"x", "y", "z", "a"}, {"a"}, top3).average_precision,
      0.0);
}

TEST(MetricTest, TemplateOverIntegerIds) {
  // Trainer style: ranked gallery indices and a predicate over the index.
  const std::array<int64_t, 6> ranked = {7, 3, 9, 4, 1, 8};
  const std::vector<bool> relevant = {false, true,  false, false, true,
                                      false, false, false, false, true};
  const QueryScore score = ScoreRankedList(
      ranked, [&](int64_t id) { return static_cast<bool>(relevant[id]); },
      RankingOptions{10, 0.0});
  // Hits at ranks 3 (id 9), 4 (id 4) and 5 (id 1): (1/3 + 2/4 + 3/5) / 3.
  EXPECT_DOUBLE_EQ(score.average_precision, (1.0 / 3 + 2.0 / 4 + 3.0 / 5) / 3);
  EXPECT_EQ(score.first_hit_rank, 3);
}

TEST(MetricAccumulatorTest, MeanRecallAndCategories) {
  MetricAccumulator acc;
  EXPECT_EQ(acc.Overall().num_queries, 0);
  EXPECT_EQ(acc.Overall().map_at_10, 0.0);
  QueryScore first;  // hit at rank 1
  first.average_precision = 1.0;
  first.num_hits = 1;
  first.first_hit_rank = 1;
  QueryScore fourth;  // first hit at rank 4
  fourth.average_precision = 0.25;
  fourth.num_hits = 1;
  fourth.first_hit_rank = 4;
  QueryScore seventh;
  seventh.average_precision = 0.5;
  seventh.num_hits = 3;
  seventh.first_hit_rank = 7;
  QueryScore none;
  acc.Add(first, Category::kVehicle);
  acc.Add(fourth, Category::kPedestrian);
  acc.Add(seventh, Category::kPedestrian);
  acc.Add(none, Category::kVehicle);
  const RetrievalMetrics all = acc.Overall();
  EXPECT_EQ(all.num_queries, 4);
  EXPECT_DOUBLE_EQ(all.map_at_10, (1.0 + 0.25 + 0.5 + 0.0) / 4);
  EXPECT_DOUBLE_EQ(all.recall_at_1, 1.0 / 4);
  EXPECT_DOUBLE_EQ(all.recall_at_5, 2.0 / 4);
  EXPECT_DOUBLE_EQ(all.recall_at_10, 3.0 / 4);
  const RetrievalMetrics ped = acc.ForCategory(Category::kPedestrian);
  EXPECT_EQ(ped.num_queries, 2);
  EXPECT_DOUBLE_EQ(ped.map_at_10, 0.375);
  EXPECT_DOUBLE_EQ(ped.recall_at_1, 0.0);
  EXPECT_DOUBLE_EQ(ped.recall_at_5, 0.5);
  EXPECT_DOUBLE_EQ(ped.recall_at_10, 1.0);
  const RetrievalMetrics veh = acc.ForCategory(Category::kVehicle);
  EXPECT_EQ(veh.num_queries, 2);
  EXPECT_DOUBLE_EQ(veh.map_at_10, 0.5);
  EXPECT_DOUBLE_EQ(veh.recall_at_1, 0.5);
  EXPECT_EQ(acc.ForCategory(Category::kUnspecified).num_queries, 0);
}

// The official baseline's val predictions: infer.txt line i holds a val label
// (fields 1-3) and the baseline's top 10 for that line's text (fields 4-13).
// Each line is one query; the relevant images are the val images whose
// attribute matches the line's attribute. The expected numbers are computed
// with the official formula (hits starting at 1e-6) by eval/metric_golden.py,
// a Python implementation independent of this code that prints `cases`:
//   eval/metric_golden.py [path/to/infer.txt]
TEST(RealDataTest, OfficialBaselineMapOnInferTxt) {
  REQUIRE_SHARED_PATH(path, "data/track2/open-transmind/infer.txt");
  LabelReaderOptions options;
  options.allow_extra_fields = true;
  auto records = ReadLabelFile(path, options);
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 10000u);
  struct Expected {
    Relevance relevance;
    double map, pedestrian, vehicle, r1, r5, r10;
  };
  const Expected cases[] = {
      {Relevance::kExact, 0.22676122440351568, 0.026661706515088215,
       0.612948017351381, 0.2065, 0.3106, 0.3326},
      {Relevance::kPedestrianSubset, 0.23335212744533387, 0.03666763188599577,
       0.612948017351381, 0.2073, 0.3244, 0.3540},
  };
  for (const Expected& expected : cases) {
    SCOPED_TRACE(RelevanceName(expected.relevance));
    const RelevanceIndex index(*records, expected.relevance);
    MetricAccumulator acc;
    for (const LabelRecord& record : *records) {
      const std::vector<int> relevant_ids =
          index.RelevantImageIndices(record.attribute);
      std::unordered_set<std::string> relevant;
      for (int id : relevant_ids) relevant.insert(index.images()[id]);
      acc.Add(ScoreRankedNames(record.extra_fields, relevant), record.category);
    }
    const RetrievalMetrics all = acc.Overall();
    EXPECT_EQ(all.num_queries, 10000);
    EXPECT_DOUBLE_EQ(all.map_at_10, expected.map);
    EXPECT_DOUBLE_EQ(acc.ForCategory(Category::kPedestrian).map_at_10,
                     expected.pedestrian);
    EXPECT_DOUBLE_EQ(acc.ForCategory(Category::kVehicle).map_at_10,
                     expected.vehicle);
    EXPECT_DOUBLE_EQ(all.recall_at_1, expected.r1);
    EXPECT_DOUBLE_EQ(all.recall_at_5, expected.r5);
    EXPECT_DOUBLE_EQ(all.recall_at_10, expected.r10);
  }
}

}  // namespace
}  // namespace eval
