#include "common/path_util.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace common {

absl::Status CheckRelativeName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("the name is empty");
  if (name.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("the name holds a NUL byte");
  }
  if (name.front() == '/') {
    return absl::InvalidArgumentError("the name is an absolute path");
  }
  bool names_an_entry = false;
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part == "..") {
      return absl::InvalidArgumentError(
          "the name has a '..' component (it leaves its directory)");
    }
    if (!part.empty() && part != ".") names_an_entry = true;
  }
  if (!names_an_entry) {
    return absl::InvalidArgumentError(
        "the name names the directory itself, not a file in it");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> JoinUnder(const std::string& dir,
                                      absl::string_view name) {
  if (absl::Status status = CheckRelativeName(name); !status.ok()) {
    return status;
  }
  return absl::StrCat(dir, "/", name);
}

}  // namespace common
