#include "server/request_validation.h"

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace server {
namespace {

// Unicode White_Space characters as UTF-8 (ASCII, NEL, NBSP, the U+2000
// block, line/paragraph separators, ideographic space, ...).
size_t WhitespaceLength(absl::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d)) return 1;
  auto starts = [&](absl::string_view p) {
    return s.substr(i, p.size()) == p ? p.size() : 0;
  };
  for (absl::string_view p :
       {"\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\xa8", "\xe2\x80\xa9",
        "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"}) {
    if (size_t n = starts(p)) return n;
  }
  // U+2000..U+200A
  if (c == 0xe2 && i + 2 < s.size() &&
      static_cast<unsigned char>(s[i + 1]) == 0x80 &&
      static_cast<unsigned char>(s[i + 2]) <= 0x8a) {
    return 3;
  }
  return 0;
}

}  // namespace

absl::Status ValidateText(absl::string_view text, const std::string& field) {
  if (text.size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", text.size(), " bytes, the limit is ", kMaxTextBytes));
  }
  if (absl::Status st = common::ValidateUtf8(text); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not valid UTF-8"));
  }
  size_t i = 0;
  while (i < text.size()) {
    size_t n = WhitespaceLength(text, i);
    if (n == 0) break;
    i += n;
  }
  if (i == text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": empty or only whitespace"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTopK(int top_k, const std::string& field, int* effective) {
  if (top_k == 0) {
    *effective = kDefaultTopK;
    return absl::OkStatus();
  }
  if (top_k < 1 || top_k > kMaxTopK) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", top_k, " is outside [1, ", kMaxTopK, "]"));
  }
  *effective = top_k;
  return absl::OkStatus();
}

absl::Status ValidateBatchSize(int n) {
  if (n > kMaxBatchRequests) {
    return absl::InvalidArgumentError(absl::StrCat(
        "requests: ", n, " queries, the limit is ", kMaxBatchRequests));
  }
  return absl::OkStatus();
}

absl::Status ValidateCategory(int category, const std::string& field) {
  if (category < 0 || category > kMaxCategoryValue) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": unknown category value ", category,
                     " (0 unspecified, 1 pedestrian, 2 vehicle, 3 auto)"));
  }
  return absl::OkStatus();
}

}  // namespace server
