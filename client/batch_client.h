// Runs every line of a query file (test_text.txt) through BatchSearch and
// writes the competition's submission JSON:
//   {"results": [{"text": ..., "image_names": [...]}, ...]}
// one entry per line, in file order, texts byte-identical, duplicates kept,
// written atomically (eval::WriteSubmission) only when the run is complete.
//
// Work is cut into chunks of chunk_size consecutive lines; `concurrency`
// threads each send one chunk at a time over a shared channel (one HTTP/2
// stream per call). Calls are retried per CallOptions::retry (UNAVAILABLE,
// CANCELLED and DEADLINE_EXCEEDED; retried attempts wait for the server to
// come back, see client/grpc_client.h), so a server restart is ridden
// through.
//
// Bad lines: when the server rejects a chunk with INVALID_ARGUMENT, the chunk
// is re-sent line by line with Search to find the lines at fault; each is
// reported with its 1-based line number and the server's message. Without
// allow_failures the run then fails (INVALID_ARGUMENT, no output) after all
// chunks were tried, so that one run lists every bad line; with it the line's
// entry gets an empty image list.
//
// Journal (crash safety): every finished chunk is appended to
// JournalPathFor(output) (OUTPUT.partial.jsonl) and fsynced. Line 1 is a
// header holding the queries file's SHA-256, the number of queries, the chunk
// size, top_k and the category; each further line is one chunk:
//   {"chunk": 3, "model_versions": [7], "names": [[...], ...],
//    "failures": [{"line": 200, "message": "..."}]}
// With `resume` a run reads the journal, checks that the header matches this
// run (else FAILED_PRECONDITION naming the difference), drops a torn last line
// and sends only the chunks that are missing. Without `resume` an existing
// journal is FAILED_PRECONDITION (nothing is overwritten). The journal is
// deleted once the output is written.
//
// Thread safety: RunBatchClient is reentrant for distinct output paths.
#ifndef CLIENT_BATCH_CLIENT_H_
#define CLIENT_BATCH_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/grpc_client.h"
#include "retrieval/v1/retrieval.pb.h"
#include "server/request_validation.h"

namespace client {

// The most texts one BatchSearch may carry (retrieval.proto).
inline constexpr int kMaxChunkSize = server::kMaxBatchRequests;

struct BatchClientOptions {
  std::string queries_path;  // one query per line (eval::ParseQueries)
  std::string output_path;   // submission JSON
  int top_k = 10;            // hits per query, in [1, 1000]
  retrieval::v1::Category category = retrieval::v1::CATEGORY_UNSPECIFIED;
  int concurrency = 4;          // concurrent calls, >= 1
  int chunk_size = 64;          // texts per BatchSearch, in [1, kMaxChunkSize]
  CallOptions call;             // per-call deadline and retries
  bool resume = false;          // continue from the journal
  bool allow_failures = false;  // write empty lists for rejected lines

  // Progress report; null: none. With progress_bar a single line is redrawn
  // in place (for a terminal) every 200 ms; otherwise a line is printed every
  // progress_interval.
  std::FILE* progress_stream = nullptr;
  bool progress_bar = false;
  absl::Duration progress_interval = absl::Seconds(10);

  // Stops taking new chunks once this many were taken in this run, finishes
  // and journals those, and returns ABORTED (no output; resume continues).
  // 0: no limit. Splits a long run; tests use it to simulate a crash.
  int max_chunks = 0;
  // When it becomes true, stops like max_chunks and returns CANCELLED. May
  // be null. Typically set from a SIGINT handler.
  const std::atomic<bool>* cancel = nullptr;
};

// A line the server rejected.
struct LineFailure {
  int line = 0;         // 1-based line number in the queries file
  std::string message;  // the server's message
};

struct BatchClientSummary {
  int64_t queries = 0;               // lines of the queries file
  int64_t queries_this_run = 0;      // lines answered by this run's calls
  int64_t queries_resumed = 0;       // lines taken from the journal
  int64_t chunks = 0;                // chunks of the whole file
  int64_t chunks_resumed = 0;        // chunks taken from the journal
  int64_t chunks_done = 0;           // chunks finished (journal + this run)
  int64_t chunks_with_fallback = 0;  // re-sent line by line (this run)
  int64_t retries = 0;               // retried attempts (this run)
  // Rejected lines, sorted by line (journal + this run).
  std::vector<LineFailure> failures;
  std::vector<int64_t> model_versions;  // distinct versions seen, ascending
  double seconds = 0.0;                 // wall time of this run
  bool output_written = false;
};

// OUTPUT.partial.jsonl.
std::string JournalPathFor(const std::string& output_path);

// INVALID_ARGUMENT naming the option for values out of range or missing
// paths.
absl::Status ValidateBatchClientOptions(const BatchClientOptions& options);

// Does the run described at the top of this file. `summary` (required) is
// filled as far as the run got, also on error. Errors: those of
// ValidateBatchClientOptions; the readers' (NOT_FOUND, INVALID_ARGUMENT with
// file:line for invalid UTF-8); FAILED_PRECONDITION for a journal that exists
// without `resume` or does not match; DATA_LOSS for a corrupt journal line;
// INVALID_ARGUMENT naming the first rejected line (without allow_failures;
// summary->failures lists them all); the
// server's status of a call that failed after retries, naming the lines;
// ABORTED / CANCELLED as described for max_chunks / cancel.
absl::Status RunBatchClient(const BatchClientOptions& options,
                            const RetrievalClient& client,
                            BatchClientSummary* summary);

// One progress report. `done` of `total` queries are finished,
// `done_this_run` of them by this run in `elapsed_s` seconds (the rate and
// ETA use these). bar: "[=====>    ]  45.2% 2260/5000 queries  412.3 q/s
// ETA 0:07"; otherwise "2260/5000 queries (45.2%), 412.3 queries/s, ETA 0:07".
// "ETA --" until there is a rate.
std::string FormatProgress(int64_t done, int64_t total, int64_t done_this_run,
                           double elapsed_s, bool bar);

// The model versions of a run for its last message: "model version 7",
// "model versions 3, 4", or "no model version: no query was sent" when no
// answer came (an empty queries file, or everything from the journal of a
// run that saw none).
std::string DescribeModelVersions(const std::vector<int64_t>& versions);

// The last line of a run that wrote its output: "wrote OUTPUT (model version
// 7)"; for a queries file without a single line "wrote OUTPUT: an empty
// submission, since QUERIES holds no queries (nothing was sent)".
std::string DescribeWrittenOutput(const BatchClientOptions& options,
                                  const BatchClientSummary& summary);

// "0:07", "12:34" or "1:02:03" for a whole number of seconds.
std::string FormatEta(int64_t seconds);

}  // namespace client

#endif  // CLIENT_BATCH_CLIENT_H_
