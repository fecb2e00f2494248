// Command-line plumbing shared by the client binaries (batch_client, query,
// loadgen): flag parsing with the project's exit codes.
//
// Exit codes of every client binary: 0 success, 1 the work failed (server,
// files, data), 2 bad flags (unknown flag, malformed value, missing or
// inconsistent flags).
#ifndef CLIENT_CLI_UTIL_H_
#define CLIENT_CLI_UTIL_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace client {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadFlags = 2;

// Sets the usage message and parses the command line with Abseil. Where
// absl::ParseCommandLine would end the process with status 1 (unknown flag,
// malformed value) this exits with kExitBadFlags instead; --help and friends
// exit with 0. Returns the positional arguments (argv[0] first). The usage
// message of the first call sticks. Not thread-safe; call at the start of
// main.
std::vector<char*> ParseFlagsOrExit(int argc, char** argv, const char* usage);

// `text` made safe to print to a terminal: every control byte (0x00-0x1f,
// 0x7f), every C1 control character (U+0080-U+009F, which some terminals
// take as escape sequences), every byte that is not part of valid UTF-8, and
// the backslash itself become "\xNN" (two lower-case hex digits); printable
// ASCII and valid UTF-8 stay as they are. For names and messages that come
// from a server or a file, so that they cannot drive the terminal.
std::string EscapeForTerminal(absl::string_view text);

}  // namespace client

#endif  // CLIENT_CLI_UTIL_H_
