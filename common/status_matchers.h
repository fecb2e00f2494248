// GoogleTest helpers for absl::Status; Debian's Abseil lacks
// absl/status/status_matchers.h.
#ifndef COMMON_STATUS_MATCHERS_H_
#define COMMON_STATUS_MATCHERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace common_testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

// Matches a Status or StatusOr whose code is `code` and whose message
// matches `message_matcher`.
MATCHER_P2(StatusIs, code, message_matcher,
           std::string("has code ") + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  if (s.code() != code) {
    *result_listener << "whose status is " << s.ToString();
    return false;
  }
  return ::testing::ExplainMatchResult(
      message_matcher, std::string(s.message()), result_listener);
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "whose status is " << s.ToString();
  return s.ok();
}

}  // namespace common_testing

#define EXPECT_OK(expr) EXPECT_THAT((expr), ::common_testing::IsOk())
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::common_testing::IsOk())

#endif  // COMMON_STATUS_MATCHERS_H_
