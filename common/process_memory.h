// The resident memory of this process, from /proc/self/status (Linux).
//
// Thread safety: ReadProcessMemory may be called from any thread.
#ifndef COMMON_PROCESS_MEMORY_H_
#define COMMON_PROCESS_MEMORY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace common {

// Resident set sizes in bytes. rss_bytes = anon_bytes + file_bytes +
// shmem_bytes (the kernel's VmRSS = RssAnon + RssFile + RssShmem).
struct ProcessMemory {
  int64_t rss_bytes = 0;
  // Private memory: the heap, stacks, anonymous mappings (what the process
  // holds alone and would swap).
  int64_t anon_bytes = 0;
  // Resident pages of file mappings (code, memory-mapped files): page
  // cache, shared with every process mapping the same file, and dropped
  // under memory pressure (re-read on the next touch).
  int64_t file_bytes = 0;
  // Shared memory (tmpfs, shared anonymous mappings).
  int64_t shmem_bytes = 0;
};

// Reads VmRSS, RssAnon, RssFile and RssShmem of /proc/self/status.
// UNAVAILABLE when the file cannot be read or lacks VmRSS (not Linux).
absl::StatusOr<ProcessMemory> ReadProcessMemory();

// The same from the text of a status file (for tests); `source` names it
// in errors.
absl::StatusOr<ProcessMemory> ParseProcessStatus(const std::string& text,
                                                 const std::string& source);

}  // namespace common

#endif  // COMMON_PROCESS_MEMORY_H_
