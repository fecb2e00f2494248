#include "common/exit_code.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"

namespace common {
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
  for (const char* usage_flag : {"help", "helpfull", "helpshort", "helppackage",
                                 "helpmatch", "version", "only_check_args"}) {
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
  // Abseil allows setting the usage message once per process; the exit
  // hook, registered once, acts only while parse_exit_code is set.
  static std::once_flag once;
  std::call_once(once, [usage] {
    absl::SetProgramUsageMessage(usage);
    std::atexit(OverrideExitDuringParse);
  });
  bool usage_requested = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;
    if (IsUsageFlag(argv[i])) usage_requested = true;
  }
  parse_exit_code.store(usage_requested ? kExitOk : kExitUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  parse_exit_code.store(-1);
  return positional;
}

}  // namespace common
