#include "server/request_validation.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace server {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

TEST(RequestValidationTest, Texts) {
  EXPECT_OK(ValidateText("This is a white Audi.", "text"));
  EXPECT_OK(ValidateText("行人", "text"));
  EXPECT_THAT(
      ValidateText("", "text"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("text: empty")));
  EXPECT_THAT(
      ValidateText(" \t\n\xc2\xa0\xe3\x80\x80", "requests[2].text"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("requests[2].text: empty or only whitespace")));
  EXPECT_THAT(ValidateText("bad \xff byte", "text"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("UTF-8")));
  EXPECT_OK(ValidateText(std::string(kMaxTextBytes, 'a'), "text"));
  EXPECT_THAT(
      ValidateText(std::string(kMaxTextBytes + 1, 'a'), "text"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2049 bytes")));
}

TEST(RequestValidationTest, TopKAndBatch) {
  int k = -1;
  EXPECT_OK(ValidateTopK(0, "top_k", &k));
  EXPECT_EQ(k, kDefaultTopK);
  EXPECT_OK(ValidateTopK(kMaxTopK, "top_k", &k));
  EXPECT_EQ(k, kMaxTopK);
  EXPECT_THAT(
      ValidateTopK(kMaxTopK + 1, "top_k", &k),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("top_k: 1001")));
  EXPECT_THAT(ValidateTopK(-3, "requests[0].top_k", &k),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("requests[0].top_k")));
  EXPECT_OK(ValidateBatchSize(kMaxBatchRequests));
  EXPECT_THAT(
      ValidateBatchSize(kMaxBatchRequests + 1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("requests")));
}

TEST(RequestValidationTest, CategoriesAreTheEnumsValuesAutoIncluded) {
  for (int category = 0; category <= kMaxCategoryValue; ++category) {
    EXPECT_OK(ValidateCategory(category, "category")) << category;
  }
  EXPECT_EQ(kMaxCategoryValue, 3);  // CATEGORY_AUTO
  EXPECT_THAT(ValidateCategory(4, "requests[2].category"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("requests[2].category: unknown category "
                                 "value 4")));
  EXPECT_THAT(
      ValidateCategory(-1, "category"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("category")));
  EXPECT_THAT(
      ValidateCategory(7, "category"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("category")));
}

}  // namespace
}  // namespace server
