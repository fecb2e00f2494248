// The batch client's journal (see client/batch_client.h): its header, one
// JSON line per finished chunk, the writer that appends and syncs lines, and
// the reader that resumes from it. Internal to //client:batch_client_lib.
#ifndef CLIENT_BATCH_JOURNAL_H_
#define CLIENT_BATCH_JOURNAL_H_

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/batch_client.h"
#include "common/mutex.h"
#include "nlohmann/json.hpp"

namespace client {
namespace batch_internal {

using Json = nlohmann::json;

// The result of one chunk.
struct ChunkResult {
  bool done = false;
  std::vector<std::vector<std::string>> names;  // one per line of the chunk
  std::vector<LineFailure> failures;
  std::set<int64_t> model_versions;
};

// Everything that identifies a run's input: a journal is reusable only by a
// run with the same header.
struct JournalHeader {
  std::string queries_sha256;
  int64_t num_queries = 0;
  int chunk_size = 0;
  int top_k = 0;
  std::string category;
};

// The header line's JSON; `queries` is the queries file's path.
Json HeaderToJson(const JournalHeader& header, const std::string& queries);

// One chunk's journal line's JSON.
Json ChunkToJson(int64_t chunk, const ChunkResult& result);

// `json` on one line, ending with '\n' (invalid UTF-8 replaced).
std::string DumpLine(const Json& json);

// RESOURCE_EXHAUSTED for ENOSPC, else INTERNAL: "cannot WHAT PATH: strerror".
absl::Status ErrnoError(absl::string_view what, const std::string& path);

bool FileExists(const std::string& path);

// Lines [begin, end) (0-based) of chunk `chunk`.
std::pair<int64_t, int64_t> ChunkRange(int64_t chunk, int chunk_size,
                                       int64_t num_queries);

// Appends whole lines to the journal, each followed by fdatasync.
class JournalWriter {
 public:
  JournalWriter() = default;
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  ~JournalWriter();

  // Opens `path` for appending after truncating it to `keep_bytes` (drops a
  // torn last line); keep_bytes < 0 keeps everything.
  absl::Status Open(const std::string& path, int64_t keep_bytes)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Writes `line` and syncs it; safe to call from several threads.
  absl::Status Append(const std::string& line) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  common::Mutex mu_;  // one line is written and synced at a time
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  std::string path_ ABSL_GUARDED_BY(mu_);
};

// Parses the journal into `chunks` (indexed by chunk), checking that its
// header matches `expected`. Returns the byte length of the journal's valid
// prefix: everything but a torn last line.
absl::StatusOr<int64_t> LoadJournal(const std::string& path,
                                    const JournalHeader& expected,
                                    std::vector<ChunkResult>* chunks);

}  // namespace batch_internal
}  // namespace client

#endif  // CLIENT_BATCH_JOURNAL_H_
