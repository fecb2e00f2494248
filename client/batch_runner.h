// The batch client's moving parts during a run: the progress reporter's
// thread and the workers that send chunks and journal them. Internal to
// //client:batch_client_lib.
#ifndef CLIENT_BATCH_RUNNER_H_
#define CLIENT_BATCH_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/batch_client.h"
#include "client/batch_journal.h"
#include "client/grpc_client.h"
#include "common/mutex.h"
#include "retrieval/v1/retrieval.pb.h"

namespace client {
namespace batch_internal {

// Reports progress from a thread of its own until Stop().
class ProgressReporter {
 public:
  ProgressReporter(const BatchClientOptions& options, int64_t total,
                   int64_t already_done);
  ~ProgressReporter() { Stop(); }

  // `queries` more were finished by this run.
  void Add(int64_t queries) { done_this_run_.fetch_add(queries); }

  // Ends the thread; with a bar, draws it a last time and ends its line.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  void Print();

  std::FILE* const stream_;
  const bool bar_;
  const absl::Duration interval_;
  const int64_t total_;
  const int64_t already_done_;
  const absl::Time start_;
  std::atomic<int64_t> done_this_run_{0};
  common::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Shared state of one run's worker threads.
class Runner {
 public:
  Runner(const BatchClientOptions& options, const RetrievalClient& client,
         const std::vector<std::string>& queries,
         std::vector<ChunkResult>* chunks, JournalWriter* journal,
         ProgressReporter* progress)
      : options_(options),
        client_(client),
        queries_(queries),
        chunks_(*chunks),
        journal_(*journal),
        progress_(*progress) {}

  // Runs `pending` chunks on options.concurrency threads.
  void Run(const std::vector<int64_t>& pending);

  absl::Status error() const ABSL_LOCKS_EXCLUDED(mu_) {
    common::MutexLock lock(&mu_);
    return error_;
  }
  bool limit_reached() const { return limit_reached_.load(); }
  bool cancelled() const { return cancelled_.load(); }
  int64_t retries() const { return retries_.load(); }
  int64_t fallbacks() const { return fallbacks_.load(); }
  int64_t queries_this_run() const { return queries_this_run_.load(); }

 private:
  // One worker: takes chunks until none is left, a stop, or an error.
  void Work();
  // Records the run's first error and stops the workers.
  void Fail(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);

  retrieval::v1::SearchRequest MakeRequest(int64_t line) const;
  // "QUERIES:LINE" or "QUERIES:FIRST-LAST" for lines [begin, end).
  std::string LineRange(int64_t begin, int64_t end) const;

  // Sends chunk `chunk` with BatchSearch; when the server rejects it with
  // INVALID_ARGUMENT, sends it line by line to find the lines at fault.
  absl::StatusOr<ChunkResult> RunChunk(int64_t chunk);
  absl::StatusOr<ChunkResult> RunChunkLineByLine(int64_t begin, int64_t end);

  const BatchClientOptions& options_;
  const RetrievalClient& client_;
  const std::vector<std::string>& queries_;
  std::vector<ChunkResult>& chunks_;
  JournalWriter& journal_;
  ProgressReporter& progress_;
  const std::vector<int64_t>* pending_ = nullptr;

  std::atomic<int64_t> next_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> limit_reached_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> retries_{0};
  std::atomic<int64_t> fallbacks_{0};
  std::atomic<int64_t> queries_this_run_{0};
  mutable common::Mutex mu_;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batch_internal
}  // namespace client

#endif  // CLIENT_BATCH_RUNNER_H_
