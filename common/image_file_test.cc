#include "common/image_file.h"

#include <opencv2/imgcodecs.hpp>
#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace common {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

TEST(ImageExtensionTest, KnowsPngAndJpegInAnyCase) {
  EXPECT_EQ(*ImageExtension("a/b.PNG"), ".png");
  EXPECT_EQ(*ImageExtension("x.jpeg"), ".jpeg");
  EXPECT_THAT(
      ImageExtension("chart.gif"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chart.gif")));
}

TEST(WriteImageFileTest, WritesDecodableImagesAndRejectsUnknownExtensions) {
  const cv::Mat image(4, 6, CV_8UC3, cv::Scalar(1, 2, 3));
  EXPECT_THAT(WriteImageFile(::testing::TempDir() + "/x.bmp", image),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("x.bmp")));
  const std::string jpeg = ::testing::TempDir() + "/x.JPG";
  ASSERT_OK(WriteImageFile(jpeg, image));
  EXPECT_EQ(cv::imread(jpeg).size(), cv::Size(6, 4));
  const std::string png = ::testing::TempDir() + "/x.png";
  ASSERT_OK(WriteImageFile(png, image));
  const cv::Mat back = cv::imread(png);
  ASSERT_EQ(back.size(), cv::Size(6, 4));
  EXPECT_EQ(back.at<cv::Vec3b>(0, 0), cv::Vec3b(1, 2, 3));  // lossless
}

TEST(WriteImageFileTest, ReportsAMissingDirectory) {
  const cv::Mat image(2, 2, CV_8UC3, cv::Scalar(0, 0, 0));
  EXPECT_THAT(WriteImageFile("/nonexistent/dir/x.png", image),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent")));
}

}  // namespace
}  // namespace common
