// UTF-8 well-formedness, checked wherever outside text enters: label and
// query files (eval/), requests (server/), texts to embed (clip/).
#ifndef COMMON_UTF8_H_
#define COMMON_UTF8_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace common {

// OK when `bytes` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF); otherwise INVALID_ARGUMENT naming the byte offset
// of the first bad sequence.
absl::Status ValidateUtf8(absl::string_view bytes);

}  // namespace common

#endif  // COMMON_UTF8_H_
