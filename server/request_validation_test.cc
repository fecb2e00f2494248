#include "server/request_validation.h"

#include <cmath>
#include <vector>

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

TEST(RequestValidationTest, OffsetsVersionsAndQueryKinds) {
  EXPECT_OK(ValidateOffset(0, 10, "offset"));
  EXPECT_OK(ValidateOffset(990, 10, "offset"));
  EXPECT_THAT(ValidateOffset(991, 10, "offset"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("offset: 991 is outside [0, 990]")));
  EXPECT_THAT(ValidateOffset(-1, 10, "requests[1].offset"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("requests[1].offset: -1")));
  EXPECT_OK(ValidateModelVersion(0, "model_version"));
  EXPECT_OK(ValidateModelVersion(12, "model_version"));
  EXPECT_THAT(ValidateModelVersion(-3, "model_version"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("model_version: -3 is negative")));
  EXPECT_OK(ValidateQueryKind(true, false, false, ""));
  EXPECT_OK(ValidateQueryKind(false, false, true, ""));
  EXPECT_THAT(ValidateQueryKind(false, false, false, "requests[0]."),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("requests[0].text, requests[0].image, "
                                 "requests[0].embedding: none is set")));
  EXPECT_THAT(ValidateQueryKind(true, true, false, ""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("more than one is set")));
}

TEST(RequestValidationTest, EmbeddingsAreCheckedAndNormalised) {
  std::vector<float> out;
  EXPECT_OK(ValidateEmbedding({3.0f, 0.0f, 4.0f}, 3, "embedding", &out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_FLOAT_EQ(out[0], 0.6f);
  EXPECT_FLOAT_EQ(out[2], 0.8f);
  EXPECT_THAT(ValidateEmbedding({1.0f, 2.0f}, 3, "embedding", &out),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("embedding: 2 values, the model version's "
                                 "embeddings have 3")));
  EXPECT_THAT(ValidateEmbedding({1.0f, NAN, 0.0f}, 3, "embedding", &out),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("embedding[1]: not a finite number")));
  EXPECT_THAT(
      ValidateEmbedding({1.0f, INFINITY, 0.0f}, 3, "embedding", &out),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("embedding[1]")));
  EXPECT_THAT(
      ValidateEmbedding({0.0f, 0.0f, 0.0f}, 3, "embedding", &out),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("all zero")));
}

}  // namespace
}  // namespace server
