#include "common/utf8.h"

#include <cstddef>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace common {

absl::Status ValidateUtf8(absl::string_view bytes) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t min_code = 0;
    uint32_t code = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      min_code = 0x80;
      code = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      min_code = 0x800;
      code = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      min_code = 0x10000;
      code = c & 0x07;
    }
    bool ok = len != 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) {
        ok = false;
      } else {
        code = (code << 6) | (s[i + k] & 0x3F);
      }
    }
    ok = ok && code >= min_code && code <= 0x10FFFF &&
         !(code >= 0xD800 && code <= 0xDFFF);
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid UTF-8 at byte offset ", i));
    }
    i += len;
  }
  return absl::OkStatus();
}

}  // namespace common
