// Command-line plumbing shared by the client binaries (batch_client, query,
// loadgen): flag parsing with the project's exit codes.
//
// Exit codes of every client binary: 0 success, 1 the work failed (server,
// files, data), 2 bad flags (unknown flag, malformed value, missing or
// inconsistent flags).
#ifndef CLIENT_CLI_UTIL_H_
#define CLIENT_CLI_UTIL_H_

#include <vector>

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

}  // namespace client

#endif  // CLIENT_CLI_UTIL_H_
