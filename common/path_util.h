// Checks for file names that come from data (a manifest, a server's answer)
// and are joined to a directory: such a name must stay inside it.
#ifndef COMMON_PATH_UTIL_H_
#define COMMON_PATH_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace common {

// OK when `name` is a relative path that names something strictly below the
// directory it is joined to: not empty, not absolute, no NUL byte, no ".."
// component, and not only "." components. INVALID_ARGUMENT otherwise, with a
// message saying why (without the name, which the caller adds with its
// context).
absl::Status CheckRelativeName(absl::string_view name);

// `dir` + "/" + `name` after CheckRelativeName(name).
absl::StatusOr<std::string> JoinUnder(const std::string& dir,
                                      absl::string_view name);

}  // namespace common

#endif  // COMMON_PATH_UTIL_H_
