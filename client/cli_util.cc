#include "client/cli_util.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"

namespace client {
namespace {

// Exit status to use if the process ends while flags are being parsed; -1
// once parsing is over.
std::atomic<int> parse_exit_code{-1};

void OverrideExitDuringParse() {
  const int code = parse_exit_code.load();
  if (code < 0) return;
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}

bool IsUsageFlag(const char* arg) {
  if (arg[0] != '-') return false;
  const char* name = arg + (arg[1] == '-' ? 2 : 1);
  for (const char* usage_flag :
       {"help", "helpfull", "helpshort", "helppackage", "helpmatch",
        "version", "only_check_args"}) {
    const size_t n = std::strlen(usage_flag);
    if (std::strncmp(name, usage_flag, n) == 0 &&
        (name[n] == '\0' || name[n] == '=')) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<char*> ParseFlagsOrExit(int argc, char** argv, const char* usage) {
  // Abseil allows setting the usage message once per process.
  static std::once_flag usage_set;
  std::call_once(usage_set, [usage] { absl::SetProgramUsageMessage(usage); });
  bool usage_requested = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;
    if (IsUsageFlag(argv[i])) usage_requested = true;
  }
  parse_exit_code.store(usage_requested ? kExitOk : kExitBadFlags);
  std::atexit(OverrideExitDuringParse);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  parse_exit_code.store(-1);
  return positional;
}

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
      const bool c1_control =
          length == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0;
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
