#include "client/cli_util.h"

#include "absl/strings/str_format.h"

namespace client {
namespace {

// The length of the valid UTF-8 sequence starting at text[i] (a byte >= 0x80),
// or 0 when there is none (RFC 3629: no overlong forms, no surrogates, at
// most U+10FFFF).
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) {
    return static_cast<unsigned char>(text[i + k]);
  };
  const unsigned char lead = byte(0);
  size_t length = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) lo = 0xa0;
    if (lead == 0xed) hi = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) lo = 0x90;
    if (lead == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (size_t k = 2; k < length; ++k) {
    if ((byte(k) & 0xc0) != 0x80) return 0;
  }
  return length;
}

}  // namespace

std::string EscapeForTerminal(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(text, i);
      const bool c1_control = length == 2 && c == 0xc2 &&
                              static_cast<unsigned char>(text[i + 1]) < 0xa0;
      if (length > 0 && !c1_control) {
        out.append(text.data() + i, length);
        i += length;
        continue;
      }
    }
    absl::StrAppendFormat(&out, "\\x%02x", c);
    ++i;
  }
  return out;
}

}  // namespace client
