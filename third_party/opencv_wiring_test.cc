// Proves the OpenCV wiring: encode and decode round trips for the formats
// the gallery uses.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <vector>

#include "gtest/gtest.h"

namespace {

TEST(OpenCvWiringTest, PngRoundTripIsLossless) {
  cv::Mat img(17, 23, CV_8UC3);
  cv::randu(img, 0, 256);
  std::vector<uchar> png;
  ASSERT_TRUE(cv::imencode(".png", img, png));
  cv::Mat back = cv::imdecode(png, cv::IMREAD_COLOR);
  ASSERT_EQ(back.size(), img.size());
  EXPECT_EQ(cv::norm(img, back, cv::NORM_INF), 0.0);
}

TEST(OpenCvWiringTest, JpegDecodesToSameSizeAndClosePixels) {
  cv::Mat img(40, 60, CV_8UC3, cv::Scalar(30, 120, 220));
  cv::rectangle(img, {10, 10}, {30, 30}, cv::Scalar(255, 255, 255), cv::FILLED);
  std::vector<uchar> jpg;
  ASSERT_TRUE(cv::imencode(".jpg", img, jpg, {cv::IMWRITE_JPEG_QUALITY, 95}));
  cv::Mat back = cv::imdecode(jpg, cv::IMREAD_COLOR);
  ASSERT_EQ(back.size(), img.size());
  EXPECT_LT(cv::norm(img, back, cv::NORM_L1) / img.total() / 3, 3.0);
  EXPECT_GT(back.at<cv::Vec3b>(20, 20)[0], 240);
}

TEST(OpenCvWiringTest, GarbageDoesNotDecode) {
  std::vector<uchar> junk = {0xff, 0xd8, 0x00, 0x01, 0x02};
  EXPECT_TRUE(cv::imdecode(junk, cv::IMREAD_COLOR).empty());
}

}  // namespace
