// Dynamic batching of text queries: a BatchQueue (server/batch_queue.h)
// schedules the queued calls into batches by texts to encode, and a
// QueryProcessor (server/query_processor.h) encodes and searches each batch
// on the queue's worker thread.
//
// A call's texts found in the cache are not counted against the queue. A
// full queue, or a connection holding more than its share of it, is refused
// at once (RESOURCE_EXHAUSTED). Work whose deadline passed while queued is
// dropped with DEADLINE_EXCEEDED, and work whose caller cancelled with
// CANCELLED, both before the model runs.
//
// Thread safety: Submit may be called from any thread.
#ifndef SERVER_BATCHER_H_
#define SERVER_BATCHER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/batch_queue.h"
#include "server/metrics.h"
#include "server/model_manager.h"
#include "server/query_processor.h"
#include "server/text_cache.h"

namespace server {

// What the batcher knows of the call a Submit answers.
struct CallInfo {
  // The connection the call came on (the gRPC peer); its share of the queue
  // is bounded. "" for none.
  std::string connection;
  // Set when the caller gave up; null for never.
  std::shared_ptr<const std::atomic<bool>> cancelled;
};

class Batcher {
 public:
  struct Options {
    int max_batch_size = 64;  // texts per model call
    std::chrono::microseconds batch_timeout{2000};
    int max_queue = 1024;              // texts waiting, across requests
    int max_queue_per_connection = 0;  // 0: max_queue / 2
    // Tests only: hold every batch this long before running it, so that
    // requests are observably queued.
    std::chrono::microseconds delay_for_testing{0};
  };
  using Clock = std::chrono::steady_clock;
  using Callback = QueryTask::Callback;

  Batcher(Options options, ModelManager* models, TextCache* cache,
          Metrics* metrics);
  ~Batcher();  // Stop()

  // Queues `queries` (answered together, in order, by one model version);
  // `done` runs exactly once, on the worker thread or inline for an
  // immediate error: UNAVAILABLE without a model or after Stop(),
  // RESOURCE_EXHAUSTED when the queue or the connection's share is full.
  void Submit(std::vector<Query> queries, Clock::time_point deadline,
              Callback done, CallInfo call = {});
  // Same, answered by `model` (a version the caller resolved, e.g. with
  // ModelManager::Get); non-null.
  void Submit(std::shared_ptr<const ServedModel> model,
              std::vector<Query> queries, Clock::time_point deadline,
              Callback done, CallInfo call = {});

  // Convenience: Submit and wait until done or the deadline
  // (DEADLINE_EXCEEDED).
  absl::StatusOr<BatchResult> Run(std::vector<Query> queries,
                                  Clock::time_point deadline);

  // Finishes queued work, then stops the worker. Later Submits fail.
  void Stop();

  int64_t queued_texts() const;

 private:
  ModelManager* models_;
  QueryProcessor processor_;
  BatchQueue<QueryTask> queue_;
};

}  // namespace server

#endif  // SERVER_BATCHER_H_
