#include "client/contact_sheet.h"

#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/image_file.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace client {
namespace {

using ::common_testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ContactSheetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/contact_sheet_test";
    ASSERT_OK(common::MakeDirs(dir_));
    // BGR colours; the red one is wide, the green one tall.
    ASSERT_TRUE(cv::imwrite(dir_ + "/red.png",
                            cv::Mat(50, 100, CV_8UC3, cv::Scalar(0, 0, 255))));
    ASSERT_TRUE(cv::imwrite(dir_ + "/green.jpg",
                            cv::Mat(80, 40, CV_8UC3, cv::Scalar(0, 255, 0))));
    ASSERT_TRUE(cv::imwrite(dir_ + "/blue.png",
                            cv::Mat(64, 64, CV_8UC3, cv::Scalar(255, 0, 0))));
    ASSERT_OK(common::WriteFileAtomically(dir_ + "/broken.png", "not a png"));
  }

  std::string dir_;
};

cv::Vec3b At(const cv::Mat& image, int x, int y) {
  return image.at<cv::Vec3b>(y, x);
}

// Within JPEG's tolerance.
void ExpectColor(const cv::Vec3b& pixel, int b, int g, int r) {
  EXPECT_NEAR(pixel[0], b, 6);
  EXPECT_NEAR(pixel[1], g, 6);
  EXPECT_NEAR(pixel[2], r, 6);
}

TEST_F(ContactSheetTest, DrawsThumbnailsAndPlaceholders) {
  const std::vector<SheetEntry> entries = {
      {1, 0.91f, "red.png", "vehicle"}, {2, 0.85f, "missing.jpg", ""},
      {3, 0.80f, "green.jpg", ""},      {4, 0.75f, "blue.png", ""},
      {5, 0.70f, "broken.png", ""},
  };
  ContactSheetOptions options;
  options.columns = 3;
  options.thumb_size = 64;
  options.title = "A white Audi \xe8\xa1\x8c\xe4\xba\xba parked near the gate";
  std::vector<std::string> placeholders;
  absl::StatusOr<cv::Mat> sheet =
      DrawContactSheet(dir_, entries, options, &placeholders);
  ASSERT_OK(sheet);
  EXPECT_THAT(placeholders, ElementsAre("missing.jpg", "broken.png"));

  const std::string path = dir_ + "/sheet.png";
  ASSERT_OK(common::WriteImageFile(path, *sheet));
  const cv::Mat decoded = cv::imread(path, cv::IMREAD_COLOR);
  ASSERT_FALSE(decoded.empty());
  // 3 columns, 2 rows of 64 px boxes.
  EXPECT_EQ(decoded.cols, 8 + 3 * (64 + 8));
  EXPECT_EQ(decoded.rows, 48 + 2 * (64 + 34 + 8) + 8);
  EXPECT_EQ(decoded.size(), ContactSheetSize(5, options));

  const cv::Rect red = ThumbnailBox(0, 5, options);
  const cv::Rect missing = ThumbnailBox(1, 5, options);
  const cv::Rect green = ThumbnailBox(2, 5, options);
  const cv::Rect blue = ThumbnailBox(3, 5, options);
  const cv::Rect broken = ThumbnailBox(4, 5, options);
  EXPECT_EQ(blue, cv::Rect(8, 48 + 64 + 34 + 8, 64, 64));

  ExpectColor(At(decoded, red.x + 32, red.y + 32), 0, 0, 255);
  // The wide image is letterboxed: 64 x 32, so the top rows stay empty.
  EXPECT_EQ(At(decoded, red.x + 32, red.y + 4), cv::Vec3b(235, 235, 235));
  ExpectColor(At(decoded, green.x + 32, green.y + 32), 0, 255, 0);
  // The tall image is pillarboxed.
  EXPECT_EQ(At(decoded, green.x + 4, green.y + 32), cv::Vec3b(235, 235, 235));
  ExpectColor(At(decoded, blue.x + 32, blue.y + 32), 255, 0, 0);
  // Placeholders: grey boxes (a corner is clear of the text).
  EXPECT_EQ(At(decoded, missing.x + 1, missing.y + 1),
            cv::Vec3b(128, 128, 128));
  EXPECT_EQ(At(decoded, broken.x + 1, broken.y + 1), cv::Vec3b(128, 128, 128));
  EXPECT_EQ(At(decoded, broken.x + 62, broken.y + 62),
            cv::Vec3b(128, 128, 128));
  // The title and labels put dark pixels into their bands.
  const cv::Mat title_band = decoded(cv::Rect(0, 0, decoded.cols, 44));
  EXPECT_LT(cv::mean(title_band)[0], 254.0);
  const cv::Mat label =
      decoded(cv::Rect(red.x, red.y + 64, 64, kSheetLabelHeight));
  EXPECT_LT(cv::mean(label)[0], 254.0);
}

TEST_F(ContactSheetTest, EmptyResultsGiveATitleOnlySheet) {
  ContactSheetOptions options;
  options.thumb_size = 100;
  options.title = "nothing";
  absl::StatusOr<cv::Mat> sheet = DrawContactSheet(dir_, {}, options);
  ASSERT_OK(sheet);
  EXPECT_EQ(sheet->cols, 8 + 108);
  EXPECT_EQ(sheet->rows, 48 + 8);
}

TEST_F(ContactSheetTest, WithoutAnImagesDirEveryEntryIsAPlaceholder) {
  ContactSheetOptions options;
  options.thumb_size = 32;
  std::vector<std::string> placeholders;
  ASSERT_OK(
      DrawContactSheet("", {{1, 0.5f, "red.png", ""}}, options, &placeholders));
  EXPECT_THAT(placeholders, ElementsAre("red.png"));
}

TEST_F(ContactSheetTest, NamesThatLeaveTheImagesDirAreNotOpened) {
  // A real image outside the images directory, which a hostile server names.
  const std::string images = dir_ + "/images";
  ASSERT_OK(common::MakeDirs(images));
  ASSERT_TRUE(cv::imwrite(images + "/inside.png",
                          cv::Mat(64, 64, CV_8UC3, cv::Scalar(255, 0, 0))));
  const std::string absolute = dir_ + "/red.png";
  const std::vector<SheetEntry> entries = {
      {1, 0.9f, "../red.png", ""},
      {2, 0.8f, absolute, ""},
      {3, 0.7f, "inside.png", ""},
      {4, 0.6f, "sub/../../blue.png", ""},
  };
  ContactSheetOptions options;
  options.thumb_size = 64;
  std::vector<std::string> placeholders, refused;
  absl::StatusOr<cv::Mat> sheet =
      DrawContactSheet(images, entries, options, &placeholders, &refused);
  ASSERT_OK(sheet);
  EXPECT_TRUE(placeholders.empty());
  EXPECT_THAT(refused,
              ElementsAre(HasSubstr("../red.png: "), HasSubstr(absolute + ": "),
                          HasSubstr("sub/../../blue.png: ")));
  for (int i : {0, 1, 3}) {
    const cv::Rect box = ThumbnailBox(i, 4, options);
    EXPECT_EQ(At(*sheet, box.x + 1, box.y + 1), cv::Vec3b(128, 128, 128)) << i;
    EXPECT_EQ(At(*sheet, box.x + 62, box.y + 62), cv::Vec3b(128, 128, 128))
        << i;
  }
  const cv::Rect inside = ThumbnailBox(2, 4, options);
  EXPECT_EQ(At(*sheet, inside.x + 32, inside.y + 32), cv::Vec3b(255, 0, 0));
}

TEST(ContactSheetOptionsTest, RejectsOutOfRangeValues) {
  ContactSheetOptions options;
  options.columns = 0;
  EXPECT_THAT(
      DrawContactSheet("", {}, options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("columns")));
  options.columns = 2;
  options.thumb_size = 8;
  EXPECT_THAT(ValidateContactSheetOptions(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("8")));
}

TEST(ToDrawableAsciiTest, ReplacesEachCodePointOnce) {
  EXPECT_EQ(ToDrawableAscii("\xe8\xa1\x8c\xe4\xba\xba a\tb \xf0\x9f\x9a\x97!"),
            "?? a?b ?!");
  EXPECT_EQ(ToDrawableAscii("plain ASCII."), "plain ASCII.");
}

}  // namespace
}  // namespace client
