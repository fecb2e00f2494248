#include "common/path_util.h"

#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace common {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

TEST(PathUtilTest, AcceptsNamesBelowTheDirectory) {
  for (const char* name : {"model.safetensors", "sub/dir/a.jpg", "./a.jpg",
                           "a..b.jpg", "..a", "a/b..", "a//b"}) {
    EXPECT_OK(CheckRelativeName(name)) << name;
  }
  auto joined = JoinUnder("/models/3", "index.faiss");
  ASSERT_OK(joined);
  EXPECT_EQ(*joined, "/models/3/index.faiss");
}

TEST(PathUtilTest, RefusesNamesThatLeaveTheDirectory) {
  EXPECT_THAT(CheckRelativeName("../1/model.safetensors"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("..")));
  EXPECT_THAT(CheckRelativeName("a/../../b"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("..")));
  EXPECT_THAT(CheckRelativeName("a/.."),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("..")));
  EXPECT_THAT(CheckRelativeName(".."),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("..")));
  EXPECT_THAT(
      CheckRelativeName("/etc/passwd"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute")));
  EXPECT_THAT(CheckRelativeName(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(
      CheckRelativeName("."),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("itself")));
  EXPECT_THAT(
      CheckRelativeName("./"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("itself")));
  EXPECT_THAT(CheckRelativeName(std::string("a\0/../../x", 10)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NUL")));
  EXPECT_THAT(JoinUnder("/models/3", "../1/model.safetensors"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("..")));
}

}  // namespace
}  // namespace common
