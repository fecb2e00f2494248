// Small filesystem helpers shared by every component.
//
// All writers go through WriteFileAtomically: the bytes land in a temporary
// file in the destination's directory, are flushed, and the file is renamed
// over the destination, so a reader sees the old file or the new one, never a
// half-written one.
#ifndef COMMON_FILE_UTIL_H_
#define COMMON_FILE_UTIL_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace common {

// The status for a failed system call that set `err`: NOT_FOUND (ENOENT),
// PERMISSION_DENIED (EACCES, EPERM), RESOURCE_EXHAUSTED (ENOSPC, EDQUOT: a
// full disk or quota), INTERNAL otherwise. The message is "<what>: <strerror>".
absl::Status ErrnoToStatus(int err, absl::string_view what);

// Reads a whole file. NOT_FOUND if it does not exist, other codes for I/O
// errors; the message names the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `contents` to `path` atomically (temporary file + fsync + rename).
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents);

// Returns a fresh temporary path next to `path` (same directory, so a rename
// onto `path` stays on one filesystem): "<path>.tmp.<pid>.<counter>".
std::string TempPathFor(const std::string& path);

// Renames `from` to `to`, replacing `to`; the error names both paths.
absl::Status RenameFile(const std::string& from, const std::string& to);

// fsyncs a directory so that a rename inside it is durable.
absl::Status SyncDirectory(const std::string& dir);

// Creates `dir` and any missing parents.
absl::Status MakeDirs(const std::string& dir);

}  // namespace common

#endif  // COMMON_FILE_UTIL_H_
