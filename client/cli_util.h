// Terminal output shared by the client binaries (batch_client, query,
// loadgen). Their flag parsing and exit codes are common/exit_code.h's.
#ifndef CLIENT_CLI_UTIL_H_
#define CLIENT_CLI_UTIL_H_

#include <string>

#include "absl/strings/string_view.h"

namespace client {

// `text` made safe to print to a terminal: every control byte (0x00-0x1f,
// 0x7f), every C1 control character (U+0080-U+009F, which some terminals
// take as escape sequences), every byte that is not part of valid UTF-8, and
// the backslash itself become "\xNN" (two lower-case hex digits); printable
// ASCII and valid UTF-8 stay as they are. For names and messages that come
// from a server or a file, so that they cannot drive the terminal.
std::string EscapeForTerminal(absl::string_view text);

}  // namespace client

#endif  // CLIENT_CLI_UTIL_H_
