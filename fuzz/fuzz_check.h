// Helpers for the fuzz targets of this package.
//
// FUZZ_CHECK(cond) << "message" aborts with the message when an invariant of
// the code under test does not hold; libFuzzer reports an abort as a crash
// and saves the input. IsWellFormedUtf8 is an independent reference for the
// UTF-8 checks of the parsers (Unicode 15, table 3-7).
#ifndef FUZZ_FUZZ_CHECK_H_
#define FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace fuzz {

// Collects the message of a failed check and aborts when destroyed.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition) {
    stream_ << file << ":" << line << ": invariant violated: " << condition
            << ": ";
  }
  [[noreturn]] ~CheckFailure() {
    std::fprintf(stderr, "%s\n", stream_.str().c_str());
    std::abort();
  }
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Whether `s` is well-formed UTF-8: no overlong forms, no surrogates,
// nothing above U+10FFFF, no truncated sequence.
inline bool IsWellFormedUtf8(absl::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k, unsigned char lo, unsigned char hi) {
    return k < n && byte(k) >= lo && byte(k) <= hi;
  };
  while (i < n) {
    const unsigned char c = byte(i);
    if (c <= 0x7f) {
      i += 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      if (!cont(i + 1, 0x80, 0xbf)) return false;
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      const unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
      const unsigned char hi = c == 0xed ? 0x9f : 0xbf;
      if (!cont(i + 1, lo, hi) || !cont(i + 2, 0x80, 0xbf)) return false;
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      const unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
      const unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
      if (!cont(i + 1, lo, hi) || !cont(i + 2, 0x80, 0xbf) ||
          !cont(i + 3, 0x80, 0xbf)) {
        return false;
      }
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

// Escaped form of bytes for messages.
inline std::string Escaped(absl::string_view s) {
  return "\"" + absl::CHexEscape(s.substr(0, 200)) + "\"";
}

}  // namespace fuzz

#define FUZZ_CHECK(condition) \
  if (condition) {            \
  } else                      \
    ::fuzz::CheckFailure(__FILE__, __LINE__, #condition).stream()

#endif  // FUZZ_FUZZ_CHECK_H_
