#include "eval/attribute_chart.h"

#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eval {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

// BGR of the "query 1, hit 0" segments (attribute_chart.cc).
const cv::Vec3b kMissed(170, 90, 30);

// 21 flags (Female wrong in 3 of 4 queries, the others right) and the three
// vehicle fields (brand wrong in 1 of 2).
std::vector<AttributeErrorRate> Rates() {
  AttributeAnalysis analysis;
  analysis.pedestrian_top1.compared = 4;
  analysis.flags[0] = {3, 3, 0};
  analysis.vehicle_top1.compared = 2;
  analysis.fields[static_cast<int>(VehicleField::kBrand)].differ = 1;
  return AttributeErrorRates(analysis);
}

// Pixels of `colour` along the middle of bar `row`.
int CountInRow(const cv::Mat& image, int row, const cv::Vec3b& colour) {
  const int y =
      kAttributeChartTop + row * kAttributeChartRow + kAttributeChartRow / 2;
  int n = 0;
  for (int x = 0; x < image.cols; ++x) n += image.at<cv::Vec3b>(y, x) == colour;
  return n;
}

TEST(AttributeChartTest, SizeFollowsTheNumberOfBars) {
  EXPECT_EQ(AttributeChartSize(24),
            cv::Size(kAttributeChartWidth, kAttributeChartTop +
                                               24 * kAttributeChartRow +
                                               kAttributeChartBottom));
  EXPECT_EQ(DrawAttributeChart(Rates()).size(), AttributeChartSize(24));
}

TEST(AttributeChartTest, WritesADecodablePngWithTheBars) {
  const std::string path = ::testing::TempDir() + "/attribute_chart.png";
  ASSERT_OK(WriteAttributeChart(path, Rates()));
  absl::StatusOr<std::string> bytes = common::ReadFile(path);
  ASSERT_OK(bytes);
  EXPECT_EQ(bytes->substr(0, 8), "\x89PNG\r\n\x1a\n");
  const cv::Mat decoded = cv::imread(path, cv::IMREAD_COLOR);
  ASSERT_FALSE(decoded.empty());
  EXPECT_EQ(decoded.size(), AttributeChartSize(24));
  // Female's bar spans the axis (75% of an axis to 80%); Age18-60 has none.
  EXPECT_GT(CountInRow(decoded, 0, kMissed), 400);
  EXPECT_EQ(CountInRow(decoded, 2, kMissed), 0);
}

TEST(AttributeChartTest, OnlyPngNames) {
  EXPECT_THAT(
      WriteAttributeChart(::testing::TempDir() + "/chart.jpg", Rates()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chart.jpg")));
  EXPECT_THAT(
      WriteAttributeChart(::testing::TempDir() + "/chart.gif", Rates()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chart.gif")));
}

}  // namespace
}  // namespace eval
