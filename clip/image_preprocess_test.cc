#include "clip/image_preprocess.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "clip/safetensors.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "common/test_data.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"

namespace clip {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

constexpr int kFixtureResolution = 32;

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  EXPECT_OK(common::WriteFileAtomically(path, bytes));
  return path;
}

std::string Encode(const std::string& ext, const cv::Mat& bgr,
                   const std::vector<int>& params = {}) {
  std::vector<uchar> buf;
  EXPECT_TRUE(cv::imencode(ext, bgr, buf, params)) << ext;
  return std::string(buf.begin(), buf.end());
}

// A deterministic RGB test image with structure in both directions.
cv::Mat Pattern(int width, int height, uint32_t seed = 1) {
  cv::Mat m(height, width, CV_8UC3);
  std::mt19937 gen(seed);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      m.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uint8_t>((x * 255) / std::max(1, width - 1)),
                    static_cast<uint8_t>((y * 255) / std::max(1, height - 1)),
                    static_cast<uint8_t>(gen() & 0xFF));
    }
  }
  return m;
}

bool Equal(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() &&
         cv::norm(a, b, cv::NORM_INF) == 0;
}

// ---- Parity with OpenAI's transform (shared fixtures) -----------------------

struct FixtureImage {
  std::string path;
  int width;
  int height;
};

std::vector<FixtureImage> ReadImageList(const std::string& fixture_dir) {
  auto text = common::ReadFile(fixture_dir + "/images.json");
  EXPECT_OK(text);
  std::vector<FixtureImage> images;
  if (!text.ok()) return images;
  const nlohmann::json list = nlohmann::json::parse(*text);
  for (const auto& entry : list) {
    images.push_back({fixture_dir + "/" + entry.at("file").get<std::string>(),
                      entry.at("original_size_wh").at(0).get<int>(),
                      entry.at("original_size_wh").at(1).get<int>()});
  }
  return images;
}

TEST(ImagePreprocessParityTest, GeometryMatchesFixtureReadme) {
  // Resize sizes and crop offsets stated for the four fixture images.
  EXPECT_EQ(ShorterSideResizeSize({53, 163}, 32), cv::Size(32, 98));
  EXPECT_EQ(ShorterSideResizeSize({70, 164}, 32), cv::Size(32, 74));
  EXPECT_EQ(ShorterSideResizeSize({105, 89}, 32), cv::Size(37, 32));
  EXPECT_EQ(ShorterSideResizeSize({142, 107}, 32), cv::Size(42, 32));
  EXPECT_EQ(CenterCropRect({32, 98}, 32), cv::Rect(0, 33, 32, 32));
  EXPECT_EQ(CenterCropRect({32, 74}, 32), cv::Rect(0, 21, 32, 32));
  // (37 - 32) / 2 = 2.5 rounds to even: 2.
  EXPECT_EQ(CenterCropRect({37, 32}, 32), cv::Rect(2, 0, 32, 32));
  EXPECT_EQ(CenterCropRect({42, 32}, 32), cv::Rect(5, 0, 32, 32));
}

TEST(ImagePreprocessParityTest, CenterCropMatchesPillowReference) {
  REQUIRE_SHARED_PATH(expected_path,
                      "fixtures/clip-parity/expected.safetensors");
  REQUIRE_SHARED_PATH(fixture_dir, "fixtures/clip-parity");
  auto expected = SafetensorsFile::Read(expected_path);
  ASSERT_OK(expected);
  auto reference = expected->GetI32("image_cropped_rgb");
  ASSERT_OK(reference);
  const std::vector<FixtureImage> images = ReadImageList(fixture_dir);
  ASSERT_EQ(images.size(), 4u);
  const int r = kFixtureResolution;
  ASSERT_EQ(reference->size(), images.size() * r * r * 3);

  PreprocessOptions options;
  options.resolution = r;
  int overall_max = 0;
  int64_t overall_sum = 0;
  int64_t overall_exact = 0;
  for (size_t n = 0; n < images.size(); ++n) {
    auto rgb = DecodeImageFile(images[n].path);
    ASSERT_OK(rgb);
    EXPECT_EQ(rgb->cols, images[n].width) << images[n].path;
    EXPECT_EQ(rgb->rows, images[n].height) << images[n].path;
    auto crop = ResizeAndCrop(*rgb, options);
    ASSERT_OK(crop);
    ASSERT_EQ(crop->size(), cv::Size(r, r));
    int max_diff = 0;
    int64_t sum = 0;
    int64_t exact = 0;
    for (int y = 0; y < r; ++y) {
      for (int x = 0; x < r; ++x) {
        for (int c = 0; c < 3; ++c) {
          const int want = (*reference)[((n * r + y) * r + x) * 3 + c];
          const int got = crop->at<cv::Vec3b>(y, x)[c];
          const int d = std::abs(want - got);
          max_diff = std::max(max_diff, d);
          sum += d;
          exact += d == 0;
        }
      }
    }
    const double mean = static_cast<double>(sum) / (r * r * 3);
    std::cout << "[parity] " << images[n].path << ": max |diff| " << max_diff
              << " u8, mean |diff| " << mean << " u8, exact " << exact << "/"
              << r * r * 3 << "\n";
    EXPECT_LE(max_diff, 2) << images[n].path;
    EXPECT_LT(mean, 0.5) << images[n].path;
    overall_max = std::max(overall_max, max_diff);
    overall_sum += sum;
    overall_exact += exact;
  }
  const int64_t total = static_cast<int64_t>(images.size()) * r * r * 3;
  std::cout << "[parity] all images: max |diff| " << overall_max
            << " u8, mean |diff| " << static_cast<double>(overall_sum) / total
            << " u8, exact " << overall_exact << "/" << total << "\n";
}

TEST(ImagePreprocessParityTest, NormalizeReproducesImageInputBitForBit) {
  REQUIRE_SHARED_PATH(expected_path,
                      "fixtures/clip-parity/expected.safetensors");
  auto expected = SafetensorsFile::Read(expected_path);
  ASSERT_OK(expected);
  auto reference = expected->GetI32("image_cropped_rgb");
  ASSERT_OK(reference);
  auto input = expected->GetF32("image_input");
  ASSERT_OK(input);
  const int r = kFixtureResolution;
  ASSERT_EQ(input->size(), 4u * 3 * r * r);
  PreprocessOptions options;
  options.resolution = r;
  std::vector<float> out(3 * r * r);
  for (int n = 0; n < 4; ++n) {
    cv::Mat rgb(r, r, CV_8UC3);
    for (int y = 0; y < r; ++y) {
      for (int x = 0; x < r; ++x) {
        for (int c = 0; c < 3; ++c) {
          rgb.at<cv::Vec3b>(y, x)[c] =
              static_cast<uint8_t>((*reference)[((n * r + y) * r + x) * 3 + c]);
        }
      }
    }
    ASSERT_OK(NormalizeToCHW(rgb, options, out.data()));
    for (int i = 0; i < 3 * r * r; ++i) {
      const float want = (*input)[n * 3 * r * r + i];
      // Bitwise: the same float32 operations in the same order.
      ASSERT_EQ(std::memcmp(&out[i], &want, sizeof(float)), 0)
          << "image " << n << " element " << i << ": " << out[i] << " vs "
          << want;
    }
  }
}

TEST(ImagePreprocessParityTest, PreprocessFileIsCloseToImageInput) {
  REQUIRE_SHARED_PATH(expected_path,
                      "fixtures/clip-parity/expected.safetensors");
  REQUIRE_SHARED_PATH(fixture_dir, "fixtures/clip-parity");
  auto expected = SafetensorsFile::Read(expected_path);
  ASSERT_OK(expected);
  auto input = expected->GetF32("image_input");
  ASSERT_OK(input);
  const std::vector<FixtureImage> images = ReadImageList(fixture_dir);
  ASSERT_EQ(images.size(), 4u);
  const int r = kFixtureResolution;
  PreprocessOptions options;
  options.resolution = r;
  std::vector<float> out(3 * r * r);
  // Two u8 steps over the smallest std.
  const float tolerance = 2.0f / 255.0f / 0.26130258f + 1e-6f;
  for (size_t n = 0; n < images.size(); ++n) {
    ASSERT_OK(PreprocessFile(images[n].path, options, out.data()));
    float max_diff = 0.0f;
    for (int i = 0; i < 3 * r * r; ++i) {
      max_diff =
          std::max(max_diff, std::fabs(out[i] - (*input)[n * 3 * r * r + i]));
    }
    EXPECT_LE(max_diff, tolerance) << images[n].path;
  }
}

// ---- Resampler --------------------------------------------------------------

TEST(ResizeBicubicPillowTest, WorkedDownscaleExample) {
  // 4 -> 2 pixels: scale 2, support 4, taps at distances (0.25, 0.25, 0.75,
  // 1.25) / 2 apart from the centre; kernel values 0.8671875, 0.8671875,
  // 0.2265625, -0.0703125 normalised by their sum 1.890625.
  // Output 0: 100 * 0.45868 + 200 * 0.11983 - 255 * 0.03719 = 60.35.
  // Output 1: -0 + 100 * 0.11983 + 200 * 0.45868 + 255 * 0.45868 = 220.68.
  const cv::Mat row = (cv::Mat_<uint8_t>(1, 4) << 0, 100, 200, 255);
  auto out = ResizeBicubicPillow(row, 2, 1);
  ASSERT_OK(out);
  ASSERT_EQ(out->size(), cv::Size(2, 1));
  EXPECT_EQ(out->at<uint8_t>(0, 0), 60);
  EXPECT_EQ(out->at<uint8_t>(0, 1), 221);
  // The same along the vertical axis, and per channel for 3 channels.
  auto column = ResizeBicubicPillow(row.t(), 1, 2);
  ASSERT_OK(column);
  EXPECT_EQ(column->at<uint8_t>(0, 0), 60);
  EXPECT_EQ(column->at<uint8_t>(1, 0), 221);
  cv::Mat rgb;
  cv::merge(std::vector<cv::Mat>{row, 255 - row, row}, rgb);
  auto out3 = ResizeBicubicPillow(rgb, 2, 1);
  ASSERT_OK(out3);
  EXPECT_EQ(out3->at<cv::Vec3b>(0, 0), cv::Vec3b(60, 195, 60));
}

TEST(ResizeBicubicPillowTest, ConstantImageStaysConstant) {
  const cv::Mat grey(37, 23, CV_8UC3, cv::Scalar(17, 128, 254));
  for (const cv::Size size :
       {cv::Size(5, 7), cv::Size(23, 90), cv::Size(200, 11), cv::Size(1, 1)}) {
    auto out = ResizeBicubicPillow(grey, size.width, size.height);
    ASSERT_OK(out);
    EXPECT_EQ(out->size(), size);
    EXPECT_EQ(cv::norm(*out, cv::Mat(size, CV_8UC3, cv::Scalar(17, 128, 254)),
                       cv::NORM_INF),
              0)
        << size;
  }
}

TEST(ResizeBicubicPillowTest, SameSizeIsACopy) {
  const cv::Mat image = Pattern(19, 31);
  auto out = ResizeBicubicPillow(image, 19, 31);
  ASSERT_OK(out);
  EXPECT_TRUE(Equal(*out, image));
  EXPECT_NE(out->data, image.data);
}

TEST(ResizeBicubicPillowTest, OvershootIsClampedNotWrapped) {
  // A hard 0/255 edge upscaled rings past both ends; the ringing must clip
  // to 0 and 255 instead of wrapping around.
  cv::Mat edge(1, 8, CV_8UC1, cv::Scalar(0));
  edge.colRange(4, 8).setTo(255);
  auto out = ResizeBicubicPillow(edge, 32, 1);
  ASSERT_OK(out);
  for (int x = 0; x < 14; ++x) EXPECT_LT(out->at<uint8_t>(0, x), 10) << x;
  for (int x = 18; x < 32; ++x) EXPECT_GT(out->at<uint8_t>(0, x), 245) << x;
  // An undershoot that wrapped would show up as a large value among the
  // dark pixels.
  for (int x = 0; x < 16; ++x) EXPECT_LE(out->at<uint8_t>(0, x), 128) << x;
}

TEST(ResizeBicubicPillowTest, RegionEqualsFullResizeThenCrop) {
  const cv::Mat image = Pattern(53, 163, 7);
  for (const cv::Size size : {cv::Size(32, 98), cv::Size(224, 688),
                              cv::Size(20, 40), cv::Size(53, 80)}) {
    auto full = ResizeBicubicPillow(image, size.width, size.height);
    ASSERT_OK(full);
    const cv::Rect roi(size.width / 5, size.height / 3, size.width / 2,
                       size.height / 2);
    auto region =
        ResizeBicubicPillowRegion(image, size.width, size.height, roi);
    ASSERT_OK(region);
    EXPECT_TRUE(Equal(*region, (*full)(roi))) << size;
  }
}

TEST(ResizeBicubicPillowTest, HorizontalAndVerticalPassesAgree) {
  // When only one side changes there is a single pass, so transposing the
  // input transposes the output exactly. (With both sides changing the
  // 8-bit intermediate makes the pass order matter.)
  const cv::Mat image = Pattern(41, 29, 3);
  for (int size : {60, 11}) {
    auto vertical_only = ResizeBicubicPillow(image, 41, size);
    auto horizontal_only = ResizeBicubicPillow(image.t(), size, 41);
    ASSERT_OK(vertical_only);
    ASSERT_OK(horizontal_only);
    EXPECT_TRUE(Equal(cv::Mat(vertical_only->t()), *horizontal_only)) << size;
  }
}

TEST(ResizeBicubicPillowTest, RejectsBadArguments) {
  EXPECT_THAT(ResizeBicubicPillow(cv::Mat(), 4, 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(ResizeBicubicPillow(cv::Mat(4, 4, CV_32FC3), 4, 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("8-bit")));
  EXPECT_THAT(
      ResizeBicubicPillow(Pattern(4, 4), 0, 4),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("positive")));
  EXPECT_THAT(
      ResizeBicubicPillowRegion(Pattern(4, 4), 8, 8, cv::Rect(4, 4, 5, 1)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not inside")));
}

// ---- Geometry of the resize modes -------------------------------------------

TEST(ResizeModeTest, CenterCropRoundsHalfToEven) {
  EXPECT_EQ(CenterCropRect({33, 32}, 32).x, 0);  // 0.5 -> 0
  EXPECT_EQ(CenterCropRect({35, 32}, 32).x, 2);  // 1.5 -> 2
  EXPECT_EQ(CenterCropRect({39, 32}, 32).x, 4);  // 3.5 -> 4
  EXPECT_EQ(CenterCropRect({32, 41}, 32).y, 4);  // 4.5 -> 4
  EXPECT_EQ(CenterCropRect({32, 32}, 32), cv::Rect(0, 0, 32, 32));
}

TEST(ResizeModeTest, ShorterSideTruncatesTheLongSide) {
  // 224 * 164 / 70 = 524.8 -> 524; a square stays square.
  EXPECT_EQ(ShorterSideResizeSize({70, 164}, 224), cv::Size(224, 524));
  EXPECT_EQ(ShorterSideResizeSize({164, 70}, 224), cv::Size(524, 224));
  EXPECT_EQ(ShorterSideResizeSize({50, 50}, 224), cv::Size(224, 224));
}

TEST(ResizeModeTest, CenterCropModeEqualsResizeThenCrop) {
  const cv::Mat image = Pattern(70, 164, 5);
  PreprocessOptions options;
  options.resolution = 48;
  auto out = ResizeAndCrop(image, options);
  ASSERT_OK(out);
  const cv::Size resized = ShorterSideResizeSize(image.size(), 48);
  auto full = ResizeBicubicPillow(image, resized.width, resized.height);
  ASSERT_OK(full);
  EXPECT_TRUE(Equal(*out, (*full)(CenterCropRect(resized, 48))));
}

TEST(ResizeModeTest, PadKeepsWholeImageOnMeanColour) {
  // A tall 53x163 pedestrian-like crop at R = 32: content round(10.4) = 10
  // wide, centred at x = 11, the rest is the mean colour.
  const cv::Mat image(163, 53, CV_8UC3, cv::Scalar(250, 10, 20));
  PreprocessOptions options;
  options.resolution = 32;
  options.mode = ResizeMode::kPad;
  EXPECT_EQ(PadContentRect(image.size(), 32), cv::Rect(11, 0, 10, 32));
  const cv::Vec3b pad = PadColour(options);
  EXPECT_EQ(pad, cv::Vec3b(123, 117, 104));
  auto out = ResizeAndCrop(image, options);
  ASSERT_OK(out);
  ASSERT_EQ(out->size(), cv::Size(32, 32));
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 32; ++x) {
      const bool inside = x >= 11 && x < 21;
      EXPECT_EQ(out->at<cv::Vec3b>(y, x), inside ? cv::Vec3b(250, 10, 20) : pad)
          << x << "," << y;
    }
  }
  // The padding normalises to about zero.
  std::vector<float> chw(3 * 32 * 32);
  ASSERT_OK(NormalizeToCHW(*out, options, chw.data()));
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(chw[c * 32 * 32], 0.0f, 0.01f) << c;
  }
  // Wide input: padding above and below.
  EXPECT_EQ(PadContentRect({105, 89}, 32), cv::Rect(0, 2, 32, 27));
  EXPECT_EQ(PadContentRect({1, 500}, 32), cv::Rect(15, 0, 1, 32));
}

TEST(ResizeModeTest, SquashIgnoresAspectRatio) {
  // Left half red, right half blue, 30x90: squashed to 16x16 the halves stay.
  cv::Mat image(90, 30, CV_8UC3, cv::Scalar(255, 0, 0));
  image.colRange(15, 30).setTo(cv::Scalar(0, 0, 255));
  PreprocessOptions options;
  options.resolution = 16;
  options.mode = ResizeMode::kSquash;
  auto out = ResizeAndCrop(image, options);
  ASSERT_OK(out);
  ASSERT_EQ(out->size(), cv::Size(16, 16));
  for (int y = 0; y < 16; ++y) {
    EXPECT_EQ(out->at<cv::Vec3b>(y, 0), cv::Vec3b(255, 0, 0));
    EXPECT_EQ(out->at<cv::Vec3b>(y, 15), cv::Vec3b(0, 0, 255));
  }
  auto direct = ResizeBicubicPillow(image, 16, 16);
  ASSERT_OK(direct);
  EXPECT_TRUE(Equal(*out, *direct));
}

TEST(PreprocessOptionsTest, RejectsInvalidOptions) {
  PreprocessOptions options;
  options.resolution = 0;
  EXPECT_THAT(
      ValidatePreprocessOptions(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("resolution")));
  options.resolution = 8;
  options.stddev[1] = 0.0f;
  EXPECT_THAT(
      ResizeAndCrop(Pattern(8, 8), options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("stddev[1]")));
  options = PreprocessOptions();
  options.resolution = 8;
  std::vector<float> out(3 * 8 * 8);
  EXPECT_THAT(NormalizeToCHW(Pattern(9, 8), options, out.data()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("8x8")));
  cv::Mat grey(8, 8, CV_8UC1, cv::Scalar(3));
  EXPECT_THAT(ResizeAndCrop(grey, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RGB")));
}

TEST(NormalizeToCHWTest, WritesPlanesInRgbOrder) {
  PreprocessOptions options;
  options.resolution = 2;
  options.mean = {0.0f, 0.0f, 0.0f};
  options.stddev = {1.0f, 0.5f, 0.25f};
  cv::Mat rgb(2, 2, CV_8UC3, cv::Scalar(0, 0, 0));
  rgb.at<cv::Vec3b>(0, 1) = cv::Vec3b(255, 51, 0);  // x = 1, y = 0
  rgb.at<cv::Vec3b>(1, 0) = cv::Vec3b(0, 0, 255);   // x = 0, y = 1
  std::vector<float> out(12, -7.0f);
  ASSERT_OK(NormalizeToCHW(rgb, options, out.data()));
  EXPECT_FLOAT_EQ(out[0 * 4 + 1], 1.0f);         // R plane, (0, 1)
  EXPECT_FLOAT_EQ(out[1 * 4 + 1], 0.2f / 0.5f);  // G plane, (0, 1)
  EXPECT_FLOAT_EQ(out[2 * 4 + 2], 4.0f);         // B plane, (1, 0)
  EXPECT_FLOAT_EQ(out[0 * 4 + 2], 0.0f);
}

// ---- Decoding ---------------------------------------------------------------

TEST(DecodeImageTest, MissingFileIsNotFound) {
  const std::string path = ::testing::TempDir() + "/no_such_image.jpg";
  EXPECT_THAT(DecodeImageFile(path),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
  std::vector<float> out(3 * 224 * 224);
  EXPECT_THAT(PreprocessFile(path, PreprocessOptions(), out.data()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
}

TEST(DecodeImageTest, GarbageIsInvalidArgumentNamingTheFile) {
  const std::string path =
      WriteTemp("garbage.jpg", "this is certainly not an image file");
  EXPECT_THAT(DecodeImageFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path)));
  const std::string empty = WriteTemp("empty.png", "");
  EXPECT_THAT(DecodeImageFile(empty),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(empty)));
}

TEST(DecodeImageTest, DamagedKnownFormatIsDataLoss) {
  // A PNG cut inside its header chunk, and a JPEG signature followed by junk.
  const std::string png = Encode(".png", Pattern(16, 16));
  const std::string cut = WriteTemp("cut.png", png.substr(0, 20));
  EXPECT_THAT(DecodeImageFile(cut),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(cut)));
  EXPECT_THAT(DecodeImageBytes(std::string("\xFF\xD8\xFF\x00junkjunk", 12),
                               "bytes:jpeg"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("bytes:jpeg")));
}

TEST(DecodeImageTest, TruncatedJpegIsDataLossNamingTheFile) {
  const std::string jpeg = Encode(".jpg", Pattern(64, 64));
  ASSERT_OK(DecodeImageBytes(jpeg, "whole.jpg"));
  // Bytes after the end-of-image marker do not matter.
  ASSERT_OK(DecodeImageBytes(jpeg + "trailing bytes", "trailer.jpg"));
  const std::string half =
      WriteTemp("half.jpg", jpeg.substr(0, jpeg.size() / 2));
  EXPECT_THAT(
      DecodeImageFile(half),
      StatusIs(absl::StatusCode::kDataLoss,
               ::testing::AllOf(HasSubstr(half), HasSubstr("truncated"))));
  // Only the two-byte end-of-image marker missing.
  EXPECT_THAT(DecodeImageBytes(jpeg.substr(0, jpeg.size() - 2), "cut.jpg"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("cut.jpg")));
  std::vector<float> out(3 * 224 * 224);
  EXPECT_THAT(PreprocessFile(half, PreprocessOptions(), out.data()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(half)));
}

TEST(DecodeImageTest, PixelLimitIsCheckedFromTheHeaderBeforeDecoding) {
  // A 16x16 PNG whose header is patched to say 20000 x 20000: the check must
  // come before the decoder (which would also see the broken CRC).
  std::string png = Encode(".png", Pattern(16, 16));
  const char big[4] = {0, 0, 0x4e, 0x20};  // 20000, big-endian
  png.replace(16, 4, big, 4);
  png.replace(20, 4, big, 4);
  const std::string huge = WriteTemp("huge.png", png);
  EXPECT_THAT(
      DecodeImageFile(huge),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::AllOf(HasSubstr(huge), HasSubstr("20000x20000"))));
  // libjpeg skips stray bytes before a marker (with a warning) and still
  // finds the frame header behind them.
  std::string jpeg = Encode(".jpg", Pattern(100, 60));
  const size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg.insert(sof, "\x28\x29");
  EXPECT_THAT(DecodeImageBytes(jpeg, "stray.jpg", 5999),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("100x60"),
                                        HasSubstr("not decoded"))));
  // A JPEG whose frame header cannot be read here (a segment length below
  // 2) is refused rather than decoded unchecked.
  std::string broken = Encode(".jpg", Pattern(16, 16));
  broken.replace(4, 2, std::string(2, '\0'));  // the APP0 length
  EXPECT_THAT(
      DecodeImageBytes(broken, "broken.jpg"),
      StatusIs(absl::StatusCode::kDataLoss,
               ::testing::AllOf(HasSubstr("broken.jpg"),
                                HasSubstr("no readable frame header"))));
  // The largest sizes a PNG header can hold: their product does not fit in
  // int64_t.
  std::string widest = Encode(".png", Pattern(16, 16));
  const char max32[4] = {'\xff', '\xff', '\xff', '\xff'};
  widest.replace(16, 4, max32, 4);
  widest.replace(20, 4, max32, 4);
  EXPECT_THAT(DecodeImageBytes(widest, "widest.png"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("4294967295x4294967295")));
  // Real images over a smaller limit, in each format with a parsed header.
  const cv::Mat image = Pattern(100, 60);
  for (const std::string ext : {".png", ".jpg", ".bmp"}) {
    const std::string bytes = Encode(ext, image);
    EXPECT_THAT(
        DecodeImageBytes(bytes, "img" + ext, 5999),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 ::testing::AllOf(HasSubstr("img" + ext), HasSubstr("100x60"))))
        << ext;
    EXPECT_OK(DecodeImageBytes(bytes, "img" + ext, 6000)) << ext;
  }
  PreprocessOptions options;
  options.max_pixels = 5999;
  const std::string path = WriteTemp("limit.png", Encode(".png", image));
  std::vector<float> out(3 * 224 * 224);
  EXPECT_THAT(
      PreprocessFile(path, options, out.data()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("100x60")));
  options.max_pixels = 0;
  EXPECT_THAT(
      ValidatePreprocessOptions(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_pixels")));
}

TEST(DecodeImageTest, PixelLimitHoldsForWebPAndOs2Bitmaps) {
  // WebP (lossy, lossless, extended) and BMP with the 12-byte OS/2 header
  // carry their size in other places than the formats above.
  const cv::Mat image = Pattern(100, 60);
  const std::vector<std::pair<std::string, std::vector<int>>> webps = {
      {"lossy", {cv::IMWRITE_WEBP_QUALITY, 80}},
      {"lossless", {cv::IMWRITE_WEBP_QUALITY, 101}}};
  for (const auto& [name, params] : webps) {
    const std::string bytes = Encode(".webp", image, params);
    EXPECT_THAT(
        DecodeImageBytes(bytes, name + ".webp", 5999),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("100x60")))
        << name;
    EXPECT_OK(DecodeImageBytes(bytes, name + ".webp", 6000)) << name;
  }
  // VP8X (extended) header: the canvas size, minus one, as 24-bit values.
  std::string vp8x = "RIFF" + std::string(4, '\0') + "WEBPVP8X" +
                     std::string("\x0a\0\0\0", 4) + std::string(4, '\0');
  vp8x += std::string("\x63\0\0\x3b\0\0", 6);  // 100 x 60
  EXPECT_THAT(
      DecodeImageBytes(vp8x, "extended.webp", 5999),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("100x60")));
  // OS/2 bitmap: BITMAPCOREHEADER with 16-bit sizes, 24-bit pixels.
  const int row = (100 * 3 + 3) / 4 * 4;
  std::string bmp = "BM";
  auto put = [&bmp](uint32_t v, int n) {
    for (int i = 0; i < n; ++i) bmp.push_back(static_cast<char>(v >> (8 * i)));
  };
  put(26 + row * 60, 4);
  put(0, 4);
  put(26, 4);
  put(12, 4);
  put(100, 2);
  put(60, 2);
  put(1, 2);
  put(24, 2);
  bmp += std::string(row * 60, '\x40');
  EXPECT_THAT(
      DecodeImageBytes(bmp, "os2.bmp", 5999),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::AllOf(HasSubstr("os2.bmp"), HasSubstr("100x60"))));
  auto decoded = DecodeImageBytes(bmp, "os2.bmp", 6000);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->cols, 100);
  EXPECT_EQ(decoded->rows, 60);
}

TEST(DecodeImageTest, OtherFormatsAreNotDecoded) {
  // OpenCV reads more formats than the four supported ones; none of them is
  // decoded (their headers are not checked against the pixel limit).
  const std::string pbm = "P4\n400 400\n" + std::string(50 * 400, '\x55');
  EXPECT_THAT(DecodeImageBytes(pbm, "bitmap.pbm", 65536),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("bitmap.pbm"),
                                        HasSubstr("JPEG, PNG, BMP or WebP"))));
  const std::string ppm = Encode(".ppm", Pattern(4, 4));
  EXPECT_THAT(DecodeImageBytes(ppm, "small.ppm"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("JPEG, PNG, BMP or WebP")));
}

TEST(DecodeImageTest, OnlyRegularFilesAreOpened) {
  // A FIFO with no writer would block a plain open() forever.
  const std::string fifo = ::testing::TempDir() + "/image_fifo.jpg";
  std::remove(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  EXPECT_THAT(DecodeImageFile(fifo),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr(fifo),
                                        HasSubstr("not a regular file"))));
  std::vector<float> out(3 * 224 * 224);
  EXPECT_THAT(PreprocessFile(fifo, PreprocessOptions(), out.data()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(fifo)));
  std::remove(fifo.c_str());
  EXPECT_THAT(DecodeImageFile(::testing::TempDir()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a regular file")));
}

TEST(DecodeImageTest, LosslessFormatsDecodeToRgb) {
  cv::Mat rgb = Pattern(13, 9, 11);
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  const std::vector<std::pair<std::string, std::vector<int>>> formats = {
      {".png", {}}, {".bmp", {}}, {".webp", {cv::IMWRITE_WEBP_QUALITY, 101}}};
  for (const auto& [ext, params] : formats) {
    auto decoded = DecodeImageBytes(Encode(ext, bgr, params), ext);
    ASSERT_OK(decoded) << ext;
    EXPECT_EQ(decoded->type(), CV_8UC3) << ext;
    EXPECT_TRUE(Equal(*decoded, rgb)) << ext;
  }
}

TEST(DecodeImageTest, JpegDecodesToRgbOrder) {
  // Pure red survives JPEG well enough to tell R from B.
  cv::Mat bgr(16, 16, CV_8UC3, cv::Scalar(0, 0, 255));
  auto decoded = DecodeImageBytes(Encode(".jpg", bgr), "red.jpg");
  ASSERT_OK(decoded);
  const cv::Vec3b px = decoded->at<cv::Vec3b>(8, 8);
  EXPECT_GT(px[0], 240);
  EXPECT_LT(px[2], 15);
}

TEST(DecodeImageTest, GreyAlphaAndSixteenBitBecomeRgb8) {
  cv::Mat grey(4, 5, CV_8UC1, cv::Scalar(77));
  auto g = DecodeImageBytes(Encode(".png", grey), "grey.png");
  ASSERT_OK(g);
  EXPECT_EQ(g->type(), CV_8UC3);
  EXPECT_EQ(g->at<cv::Vec3b>(2, 3), cv::Vec3b(77, 77, 77));

  cv::Mat bgra(4, 5, CV_8UC4, cv::Scalar(10, 20, 30, 0));  // transparent
  auto a = DecodeImageBytes(Encode(".png", bgra), "alpha.png");
  ASSERT_OK(a);
  EXPECT_EQ(a->type(), CV_8UC3);
  EXPECT_EQ(a->at<cv::Vec3b>(1, 1), cv::Vec3b(30, 20, 10));

  cv::Mat deep(4, 5, CV_16UC3, cv::Scalar(0x1234, 0xABFF, 0xFF00));
  auto d = DecodeImageBytes(Encode(".png", deep), "deep.png");
  ASSERT_OK(d);
  EXPECT_EQ(d->type(), CV_8UC3);
  EXPECT_EQ(d->at<cv::Vec3b>(0, 0), cv::Vec3b(0xFF, 0xAB, 0x12));
}

// ---- Augmentation -----------------------------------------------------------

TEST(AugmentTest, SameSeedGivesSameOutput) {
  const cv::Mat image = Pattern(53, 163, 2);
  PreprocessOptions options;
  options.resolution = 24;
  AugmentOptions augment;
  augment.horizontal_flip = true;
  augment.brightness = 0.3f;
  augment.contrast = 0.3f;
  augment.saturation = 0.3f;
  std::mt19937_64 a(42);
  std::mt19937_64 b(42);
  std::mt19937_64 c(43);
  int differs = 0;
  for (int i = 0; i < 8; ++i) {
    auto x = AugmentImage(image, options, augment, &a);
    auto y = AugmentImage(image, options, augment, &b);
    auto z = AugmentImage(image, options, augment, &c);
    ASSERT_OK(x);
    ASSERT_OK(y);
    ASSERT_OK(z);
    EXPECT_TRUE(Equal(*x, *y)) << i;
    differs += !Equal(*x, *z);
  }
  EXPECT_GT(differs, 0);
}

TEST(AugmentTest, CropRectsFollowScaleAndRelativeRatio) {
  AugmentOptions augment;  // scale (0.8, 1), ratio (3/4, 4/3) relative.
  const cv::Size size(53, 163);
  const double image_ratio = 53.0 / 163.0;
  std::mt19937_64 rng(7);
  std::vector<cv::Rect> first;
  for (int i = 0; i < 200; ++i) {
    const cv::Rect rect = RandomResizedCropRect(size, augment, &rng);
    ASSERT_TRUE((rect & cv::Rect(0, 0, 53, 163)) == rect) << rect;
    ASSERT_GE(rect.width, 1);
    ASSERT_GE(rect.height, 1);
    const double area = static_cast<double>(rect.area()) / (53 * 163);
    // Rounding the sides to integers moves the area by a few percent.
    EXPECT_GE(area, 0.8 - 0.04) << rect;
    EXPECT_LE(area, 1.0) << rect;
    const double relative =
        static_cast<double>(rect.width) / rect.height / image_ratio;
    EXPECT_GE(relative, 0.75 - 0.06) << rect;
    EXPECT_LE(relative, 4.0 / 3.0 + 0.06) << rect;
    if (i < 5) first.push_back(rect);
  }
  // Reproducible from the seed.
  std::mt19937_64 again(7);
  for (const cv::Rect& rect : first) {
    EXPECT_EQ(RandomResizedCropRect(size, augment, &again), rect);
  }
}

TEST(AugmentTest, AbsoluteRatioFallsBackToCentredCrop) {
  // torchvision semantics: a 10x200 strip cannot hold a crop with aspect in
  // [3/4, 4/3] of 80% of its area; the fallback is the centred 10x13 crop.
  AugmentOptions augment;
  augment.ratio_relative_to_image = false;
  std::mt19937_64 rng(1);
  EXPECT_EQ(RandomResizedCropRect({10, 200}, augment, &rng),
            cv::Rect(0, 93, 10, 13));
}

TEST(AugmentTest, IdentityAugmentationEqualsEvaluationTransform) {
  const cv::Mat image = Pattern(70, 164, 4);
  AugmentOptions augment;
  augment.scale = {1.0, 1.0};
  augment.ratio = {1.0, 1.0};
  for (ResizeMode mode :
       {ResizeMode::kCenterCrop, ResizeMode::kPad, ResizeMode::kSquash}) {
    PreprocessOptions options;
    options.resolution = 32;
    options.mode = mode;
    std::mt19937_64 rng(5);
    auto augmented = AugmentImage(image, options, augment, &rng);
    auto eval = ResizeAndCrop(image, options);
    ASSERT_OK(augmented);
    ASSERT_OK(eval);
    EXPECT_TRUE(Equal(*augmented, *eval)) << static_cast<int>(mode);
  }
}

TEST(AugmentTest, FlipMirrorsAndJitterChangesColoursOnlyWhenEnabled) {
  // A 16x16 source at R = 16 is not resampled, so a flip is an exact mirror.
  const cv::Mat image = Pattern(16, 16, 9);
  PreprocessOptions options;
  options.resolution = 16;
  AugmentOptions augment;
  augment.scale = {1.0, 1.0};
  augment.ratio = {1.0, 1.0};
  augment.horizontal_flip = true;
  cv::Mat mirrored;
  cv::flip(image, mirrored, 1);
  std::mt19937_64 rng(3);
  int flips = 0;
  for (int i = 0; i < 20; ++i) {
    auto out = AugmentImage(image, options, augment, &rng);
    ASSERT_OK(out);
    const bool same = Equal(*out, image);
    const bool flipped = Equal(*out, mirrored);
    EXPECT_TRUE(same || flipped) << i;
    flips += flipped;
  }
  EXPECT_GT(flips, 0);
  EXPECT_LT(flips, 20);

  augment.horizontal_flip = false;
  augment.brightness = 0.5f;
  const cv::Mat original = image.clone();
  int changed = 0;
  for (int i = 0; i < 5; ++i) {
    auto out = AugmentImage(image, options, augment, &rng);
    ASSERT_OK(out);
    changed += !Equal(*out, image);
  }
  EXPECT_GT(changed, 0);
  // The caller's image is never modified.
  EXPECT_TRUE(Equal(image, original));
}

TEST(AugmentTest, RejectsInvalidOptions) {
  AugmentOptions augment;
  augment.scale = {0.9, 0.5};
  EXPECT_THAT(ValidateAugmentOptions(augment),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("scale")));
  augment = AugmentOptions();
  augment.ratio = {0.0, 1.0};
  EXPECT_THAT(ValidateAugmentOptions(augment),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ratio")));
  augment = AugmentOptions();
  augment.saturation = -0.1f;
  std::mt19937_64 rng(1);
  EXPECT_THAT(
      AugmentImage(Pattern(8, 8), PreprocessOptions(), augment, &rng),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("saturation")));
}

TEST(AugmentTest, PreprocessFileForTrainingIsReproducible) {
  cv::Mat bgr = Pattern(40, 90, 6);
  const std::string path = WriteTemp("train.png", Encode(".png", bgr));
  PreprocessOptions options;
  options.resolution = 16;
  AugmentOptions augment;
  std::vector<float> a(3 * 16 * 16);
  std::vector<float> b(3 * 16 * 16);
  std::mt19937_64 ra(11);
  std::mt19937_64 rb(11);
  ASSERT_OK(PreprocessFileForTraining(path, options, augment, &ra, a.data()));
  ASSERT_OK(PreprocessFileForTraining(path, options, augment, &rb, b.data()));
  EXPECT_EQ(a, b);
  EXPECT_THAT(
      PreprocessFileForTraining(path + ".missing", options, augment, &ra,
                                a.data()),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("train.png.missing")));
}

}  // namespace
}  // namespace clip
