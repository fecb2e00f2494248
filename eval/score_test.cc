#include "eval/score.h"

#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eval {
namespace {

using ::common_testing::IsOk;
using ::common_testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

Submission Sub(std::vector<SubmissionEntry> entries) {
  return Submission{std::move(entries)};
}

TEST(ScoreSubmissionTest, ScoresOverallAndPerCategory) {
  const std::vector<GroundTruthEntry> truth = {{"a man", {"a.jpg"}},
                                               {"a red car", {"b.jpg"}}};
  const std::vector<Category> categories = {Category::kPedestrian,
                                            Category::kVehicle};
  // The pedestrian query ranks its image first (AP 1), the vehicle query
  // second (AP 1/2).
  const Submission predictions =
      Sub({{"a man", {"a.jpg", "x.jpg"}}, {"a red car", {"x.jpg", "b.jpg"}}});
  auto score = ScoreSubmission(predictions, truth, categories, "sub.json");
  ASSERT_THAT(score.status(), IsOk());
  const RetrievalMetrics all = score->metrics.Overall();
  EXPECT_EQ(all.num_queries, 2);
  EXPECT_NEAR(all.map_at_10, 0.75, 1e-5);
  EXPECT_DOUBLE_EQ(all.recall_at_1, 0.5);
  EXPECT_DOUBLE_EQ(all.recall_at_5, 1.0);
  EXPECT_NEAR(score->metrics.ForCategory(Category::kPedestrian).map_at_10, 1.0,
              1e-5);
  EXPECT_NEAR(score->metrics.ForCategory(Category::kVehicle).map_at_10, 0.5,
              1e-5);
  EXPECT_EQ(score->short_lists, 2);  // two names each, fewer than 10
  EXPECT_EQ(score->lists_with_repeats, 0);
}

TEST(ScoreSubmissionTest, RepeatedNamesAreCountedAndEachScores) {
  const std::vector<GroundTruthEntry> truth = {{"q", {"a.jpg", "b.jpg"}}};
  const Submission predictions = Sub({{"q", {"a.jpg", "a.jpg"}}});
  auto score =
      ScoreSubmission(predictions, truth, {Category::kUnspecified}, "s");
  ASSERT_THAT(score.status(), IsOk());
  EXPECT_EQ(score->lists_with_repeats, 1);
  // As the official scorer: both positions count as hits (its formula
  // carries a small epsilon, hence the tolerance).
  EXPECT_NEAR(score->metrics.Overall().map_at_10, 1.0, 1e-5);
}

TEST(ScoreSubmissionTest, TextsMustMatchTheGroundTruthInOrder) {
  const std::vector<GroundTruthEntry> truth = {{"q1", {"a.jpg"}},
                                               {"q2", {"b.jpg"}}};
  const std::vector<Category> cats(2, Category::kUnspecified);
  EXPECT_THAT(
      ScoreSubmission(Sub({{"q1", {}}, {"other", {}}}), truth, cats, "s")
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("text mismatch at index 1"),
                     HasSubstr("\"other\""))));
  EXPECT_THAT(
      ScoreSubmission(Sub({{"q1", {}}}), truth, cats, "s").status(),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("predictions have 1 entries but the ground truth has 2")));
}

TEST(ScoreSubmissionTest, MoreThanTenNamesIsRefused) {
  const std::vector<GroundTruthEntry> truth = {{"q", {"a.jpg"}}};
  std::vector<std::string> names;
  for (int i = 0; i < 11; ++i) names.push_back(std::to_string(i) + ".jpg");
  EXPECT_THAT(ScoreSubmission(Sub({{"q", names}}), truth,
                              {Category::kUnspecified}, "sub.json")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("sub.json: results[0] has 11 image names")));
}

}  // namespace
}  // namespace eval
