// Dynamic batching of text queries: concurrent requests are queued, and one
// worker thread encodes the queued texts together (the encoder groups them
// by token length) and searches the index once per batch.
//
// The worker takes what is queued as soon as it is free, except that it
// waits up to batch_timeout for the clients of the previous batch to send
// their next request (they usually do within a millisecond), so that under
// load batches stay full instead of splitting into alternating halves; a
// lone client is served at once. Under load the queue fills while the model
// runs. A full queue rejects new work at
// once (RESOURCE_EXHAUSTED) instead of growing. Work whose deadline passed
// while queued is dropped (DEADLINE_EXCEEDED) without running the model.
//
// Thread safety: Submit may be called from any thread.
#ifndef SERVER_BATCHER_H_
#define SERVER_BATCHER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "index/gallery_index.h"
#include "server/metrics.h"
#include "server/model_manager.h"
#include "server/text_cache.h"

namespace server {

struct Query {
  std::string text;
  int top_k = 10;
  gallery::Category category = gallery::Category::kUnspecified;
};

struct QueryResult {
  std::vector<gallery::Hit> hits;
};

// All results of one Submit, from one model version.
struct BatchResult {
  std::shared_ptr<const ServedModel> model;
  std::vector<QueryResult> results;
};

class Batcher {
 public:
  struct Options {
    int max_batch_size = 64;  // texts per model call
    std::chrono::microseconds batch_timeout{2000};
    int max_queue = 1024;  // texts waiting, across requests
    // Tests only: hold every batch this long before running it, so that
    // requests are observably queued.
    std::chrono::microseconds delay_for_testing{0};
  };
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void(absl::StatusOr<BatchResult>)>;

  Batcher(Options options, ModelManager* models, TextCache* cache,
          Metrics* metrics);
  ~Batcher();  // Stop()

  // Queues `queries` (answered together, in order, by one model version);
  // `done` runs once on the worker thread (or inline for an immediate
  // error). Immediate errors: UNAVAILABLE without a model or after Stop(),
  // RESOURCE_EXHAUSTED when the queue is full.
  void Submit(std::vector<Query> queries, Clock::time_point deadline,
              Callback done);

  // Convenience: Submit and wait until done or the deadline
  // (DEADLINE_EXCEEDED).
  absl::StatusOr<BatchResult> Run(std::vector<Query> queries,
                                  Clock::time_point deadline);

  // Finishes queued work, then stops the worker. Later Submits fail.
  void Stop();

  int64_t queued_texts() const;

 private:
  struct Request {
    std::vector<Query> queries;
    Clock::time_point deadline;
    Clock::time_point enqueued;
    Callback done;
    std::shared_ptr<const ServedModel> model;
    std::vector<std::vector<float>> embeddings;  // from the cache, or empty
    std::vector<bool> cached;
    int64_t pending = 0;  // texts still to encode
  };
  void Loop();
  void Process(std::vector<std::shared_ptr<Request>>& batch);

  Options options_;
  ModelManager* models_;
  TextCache* cache_;
  Metrics* metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Request>> queue_;
  int64_t queued_texts_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace server

#endif  // SERVER_BATCHER_H_
