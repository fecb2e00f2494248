#include "common/utf8.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace common {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

TEST(Utf8Test, AcceptsValidAndRejectsMalformedSequences) {
  EXPECT_OK(ValidateUtf8("plain"));
  EXPECT_OK(ValidateUtf8("caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x9A\x97"));
  EXPECT_OK(ValidateUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  const char* bad[] = {
      "\x80",              // lone continuation
      "\xC3",              // truncated
      "\xC0\x80",          // overlong NUL
      "\xE0\x80\xAF",      // overlong
      "\xED\xA0\x80",      // surrogate U+D800
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\xFF",
  };
  for (const char* b : bad) {
    EXPECT_THAT(ValidateUtf8(b), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("byte offset 0")))
        << b;
  }
}

TEST(Utf8Test, NamesTheOffsetOfTheFirstBadSequence) {
  EXPECT_THAT(ValidateUtf8("ok \xC3\xA9 then \xC3"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("byte offset 11")));
}

}  // namespace
}  // namespace common
