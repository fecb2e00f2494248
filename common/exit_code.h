// The exit status of every binary of the project (README.md, "Exit codes"):
//
//   0        success (also --help, --helpfull, --version and the other usage
//            flags)
//   1        the work failed: a server, a file, the data
//   2        usage: a flag unknown, malformed, missing, or inconsistent with
//            another; an unexpected positional argument
//   128 + N  stopped by signal N after reporting what was done (loadgen:
//            130 for SIGINT, 143 for SIGTERM)
//
// Debian's Abseil (20220623) ends the process inside absl::ParseCommandLine
// with status 1 for an unknown flag ("ERROR: Unknown command line flag"), a
// malformed value ("ERROR: Illegal value") or a flag without its value, and
// also with 1 after printing --help or --helpfull; --version exits 0.
// ParseFlagsOrExit turns these into 2 and 0 so that the table holds.
#ifndef COMMON_EXIT_CODE_H_
#define COMMON_EXIT_CODE_H_

#include <vector>

namespace common {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// The status of a process that stops because of signal `signal`, as a shell
// reports one killed by it.
constexpr int ExitCodeForSignal(int signal) { return 128 + signal; }

// Sets the usage message and parses the command line with Abseil. Where
// absl::ParseCommandLine would end the process with status 1 (unknown flag,
// malformed or missing value) this exits with kExitUsage instead; --help and
// the other usage flags exit with kExitOk. Returns the positional arguments
// (argv[0] first). The usage message of the first call sticks. Not
// thread-safe; call at the start of main.
std::vector<char*> ParseFlagsOrExit(int argc, char** argv, const char* usage);

}  // namespace common

#endif  // COMMON_EXIT_CODE_H_
