#include "server/batcher.h"

#include <future>
#include <utility>

namespace server {
namespace {

BatchQueue<QueryTask>::Options QueueOptions(const Batcher::Options& o) {
  BatchQueue<QueryTask>::Options q;
  q.max_batch_size = o.max_batch_size;
  q.batch_timeout = o.batch_timeout;
  q.max_queue = o.max_queue;
  q.max_queue_per_owner = o.max_queue_per_connection;
  q.delay_for_testing = o.delay_for_testing;
  return q;
}

}  // namespace

Batcher::Batcher(Options options, ModelManager* models, TextCache* cache,
                 Metrics* metrics)
    : models_(models),
      processor_(cache, metrics),
      queue_(
          QueueOptions(options),
          [this](std::vector<std::unique_ptr<QueryTask>> batch) {
            processor_.Process(std::move(batch));
          },
          [](std::unique_ptr<QueryTask> task, absl::Status reason) {
            task->Finish(std::move(reason));
          },
          [metrics](int64_t depth) { metrics->SetQueueDepth(depth); }) {}

Batcher::~Batcher() { Stop(); }

int64_t Batcher::queued_texts() const { return queue_.queued(); }

void Batcher::Submit(std::vector<Query> queries, Clock::time_point deadline,
                     Callback done, CallInfo call) {
  std::shared_ptr<const ServedModel> model = models_->Current();
  if (model == nullptr) {
    done(absl::UnavailableError("no model version is loaded yet"));
    return;
  }
  Submit(std::move(model), std::move(queries), deadline, std::move(done),
         std::move(call));
}

void Batcher::Submit(std::shared_ptr<const ServedModel> model,
                     std::vector<Query> queries, Clock::time_point deadline,
                     Callback done, CallInfo call) {
  auto task = std::make_unique<QueryTask>(
      std::move(queries), std::move(model), deadline,
      std::move(call.connection), std::move(call.cancelled), std::move(done));
  processor_.Prepare(*task);
  absl::Status status = queue_.Schedule(&task);
  if (!status.ok()) task->Finish(std::move(status));
}

absl::StatusOr<BatchResult> Batcher::Run(std::vector<Query> queries,
                                         Clock::time_point deadline) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<BatchResult>>>();
  std::future<absl::StatusOr<BatchResult>> future = promise->get_future();
  Submit(std::move(queries), deadline,
         [promise](absl::StatusOr<BatchResult> r) {
           promise->set_value(std::move(r));
         });
  if (future.wait_until(deadline) != std::future_status::ready) {
    return absl::DeadlineExceededError(
        "deadline passed before the answer was ready");
  }
  return future.get();
}

void Batcher::Stop() { queue_.Stop(); }

}  // namespace server
