// A bounded queue of tasks that one worker thread takes in batches and hands
// to a processing callback. It schedules only: what a batch means is the
// callback's business (server/query_processor.h encodes and searches).
//
// A task has a size (texts, say) and the queue holds at most `max_queue`
// units across tasks and at most `max_queue_per_owner` for any one owner (a
// client connection), so one client cannot fill the queue and lock the
// others out. A full queue refuses new work at once (RESOURCE_EXHAUSTED)
// instead of growing; before refusing, it drops queued tasks that can no
// longer be answered (deadline passed or caller gone).
//
// Batches: the worker takes tasks in arrival order up to `max_batch_size`
// units (a task larger than that forms a batch of its own; tasks are never
// split). When free, it waits up to `batch_timeout` for as many units as
// the previous batch plus what was already waiting, because the clients of
// the previous batch usually send their next request within a millisecond:
// under load batches stay full instead of splitting into alternating halves,
// while a lone client (previous batch of one, nobody waiting) is served at
// once. Tasks whose deadline passed (DEADLINE_EXCEEDED) or whose caller
// cancelled (CANCELLED) while queued are dropped when the batch is formed,
// before any work is done for them.
//
// Every callback (process, drop) runs without the queue's lock held, so a
// callback may call back into the queue.
//
// Task requirements (TaskType):
//   int64_t size() const;                    // units, >= 0
//   std::chrono::steady_clock::time_point deadline() const;
//   bool cancelled() const;                  // thread-safe
//   const std::string& owner() const;        // "" = no per-owner limit
//
// Thread safety: Schedule, Stop and the accessors may be called from any
// thread.
#ifndef SERVER_BATCH_QUEUE_H_
#define SERVER_BATCH_QUEUE_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace server {

template <typename TaskType>
class BatchQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using TaskPtr = std::unique_ptr<TaskType>;

  struct Options {
    int64_t max_batch_size = 64;  // units per batch
    std::chrono::microseconds batch_timeout{2000};
    int64_t max_queue = 1024;  // units waiting, across tasks
    // Units waiting for one owner; 0 means max_queue / 2.
    int64_t max_queue_per_owner = 0;
    // Tests only: hold every batch this long after its first task arrived,
    // so that tasks are observably queued.
    std::chrono::microseconds delay_for_testing{0};
  };
  // Runs on the worker thread with the tasks of one batch (never empty),
  // in arrival order.
  using ProcessBatch = std::function<void(std::vector<TaskPtr> batch)>;
  // Runs for a task that is dropped after it was accepted (deadline passed,
  // cancelled), with the reason; on the worker thread or in Schedule().
  using DropTask = std::function<void(TaskPtr task, absl::Status reason)>;
  // Runs after the number of waiting units changed, with that number.
  using DepthChanged = std::function<void(int64_t queued)>;

  BatchQueue(Options options, ProcessBatch process, DropTask drop,
             DepthChanged depth_changed = nullptr)
      : options_(Normalized(options)),
        process_(std::move(process)),
        drop_(std::move(drop)),
        depth_changed_(std::move(depth_changed)) {
    worker_ = std::thread([this] { Loop(); });
  }
  ~BatchQueue() { Stop(); }

  BatchQueue(const BatchQueue&) = delete;
  BatchQueue& operator=(const BatchQueue&) = delete;

  // Queues `task`, which then reaches either ProcessBatch or DropTask
  // exactly once. On error the task stays with the caller (`*task` is left
  // as it was): UNAVAILABLE after Stop(), RESOURCE_EXHAUSTED when the queue
  // or the owner's share of it is full. A task is accepted into an empty
  // queue whatever its size.
  absl::Status Schedule(TaskPtr* task) {
    const int64_t size = std::max<int64_t>((*task)->size(), 0);
    const std::string& owner = (*task)->owner();
    Dropped dropped;
    absl::Status status;
    int64_t depth = 0;
    {
      common::MutexLock lock(&mu_);
      if (stopping_) {
        return absl::UnavailableError("the server is shutting down");
      }
      status = Admission(size, owner);
      if (!status.ok()) {
        RemoveDead(&dropped);
        status = Admission(size, owner);
      }
      if (status.ok()) {
        queued_ += size;
        if (!owner.empty()) per_owner_[owner] += size;
        queue_.push_back(Entry{std::move(*task), size, Clock::now()});
      }
      depth = queued_;
    }
    Dispatch(&dropped);
    if (depth_changed_) depth_changed_(depth);
    return status;
  }

  // Processes what is queued, then stops the worker; later Schedules fail.
  void Stop() {
    {
      common::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (worker_.joinable()) worker_.join();
  }

  int64_t queued() const {
    common::MutexLock lock(&mu_);
    return queued_;
  }
  const Options& options() const { return options_; }

 private:
  struct Entry {
    TaskPtr task;
    int64_t size;
    Clock::time_point enqueued;
  };
  // Tasks taken out of the queue, to be handed to DropTask outside the lock.
  using Dropped = std::vector<std::pair<TaskPtr, absl::Status>>;

  static Options Normalized(Options o) {
    o.max_batch_size = std::max<int64_t>(o.max_batch_size, 1);
    o.max_queue = std::max<int64_t>(o.max_queue, 1);
    if (o.max_queue_per_owner <= 0) {
      o.max_queue_per_owner = std::max<int64_t>(o.max_queue / 2, 1);
    }
    return o;
  }

  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  }
  bool HasWantedOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || queued_ >= want_;
  }

  int64_t OwnerQueued(const std::string& owner) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = per_owner_.find(owner);
    return it == per_owner_.end() ? 0 : it->second;
  }

  // OK when `size` more units of `owner` fit, else why not.
  absl::Status Admission(int64_t size, const std::string& owner) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!queue_.empty() && queued_ + size > options_.max_queue) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "request queue is full (", queued_, " texts waiting, limit ",
          options_.max_queue, "); retry with backoff"));
    }
    const int64_t held = owner.empty() ? 0 : OwnerQueued(owner);
    if (held > 0 && held + size > options_.max_queue_per_owner) {
      return absl::ResourceExhaustedError(
          absl::StrCat("this connection already has ", held,
                       " texts waiting (limit ", options_.max_queue_per_owner,
                       " per connection); retry with backoff"));
    }
    return absl::OkStatus();
  }

  // Why a queued task can no longer be answered, or OK.
  static absl::Status DeadReason(const TaskType& task, Clock::time_point now) {
    if (task.cancelled()) {
      return absl::CancelledError("the call was cancelled while queued");
    }
    if (task.deadline() <= now) {
      return absl::DeadlineExceededError("deadline passed while queued");
    }
    return absl::OkStatus();
  }

  void Unaccount(const Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    queued_ -= e.size;
    const std::string& owner = e.task->owner();
    if (owner.empty()) return;
    auto it = per_owner_.find(owner);
    if (it != per_owner_.end() && (it->second -= e.size) <= 0) {
      per_owner_.erase(it);
    }
  }

  void RemoveDead(Dropped* dropped) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const auto now = Clock::now();
    for (auto it = queue_.begin(); it != queue_.end();) {
      absl::Status reason = DeadReason(*it->task, now);
      if (reason.ok()) {
        ++it;
        continue;
      }
      Unaccount(*it);
      dropped->push_back({std::move(it->task), std::move(reason)});
      it = queue_.erase(it);
    }
  }

  void Dispatch(Dropped* dropped) ABSL_LOCKS_EXCLUDED(mu_) {
    for (auto& [task, reason] : *dropped)
      drop_(std::move(task), std::move(reason));
    dropped->clear();
  }

  void Loop() {
    int64_t last_batch = 0;  // units in the previous batch
    Dropped dropped;
    while (true) {
      std::vector<TaskPtr> batch;
      int64_t depth = 0;
      {
        common::MutexLock lock(&mu_);
        const int64_t waiting = queued_;
        mu_.Await(absl::Condition(this, &BatchQueue::HasWorkOrStopping));
        if (queue_.empty() && stopping_) return;
        want_ = std::min<int64_t>(options_.max_batch_size,
                                  std::max<int64_t>(1, waiting + last_batch));
        mu_.AwaitWithTimeout(
            absl::Condition(this, &BatchQueue::HasWantedOrStopping),
            absl::FromChrono(options_.batch_timeout));
        if (options_.delay_for_testing.count() > 0 && !queue_.empty()) {
          const auto until =
              queue_.front().enqueued + options_.delay_for_testing;
          mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                               absl::FromChrono(until - Clock::now()));
        }
        const auto now = Clock::now();
        int64_t units = 0;
        while (!queue_.empty()) {
          Entry& front = queue_.front();
          absl::Status reason = DeadReason(*front.task, now);
          if (!reason.ok()) {
            Unaccount(front);
            dropped.push_back({std::move(front.task), std::move(reason)});
            queue_.pop_front();
            continue;
          }
          if (!batch.empty() && units + front.size > options_.max_batch_size) {
            break;
          }
          units += front.size;
          Unaccount(front);
          batch.push_back(std::move(front.task));
          queue_.pop_front();
        }
        last_batch = units;
        depth = queued_;
      }
      Dispatch(&dropped);
      if (depth_changed_) depth_changed_(depth);
      if (!batch.empty()) process_(std::move(batch));
    }
  }

  const Options options_;
  const ProcessBatch process_;
  const DropTask drop_;
  const DepthChanged depth_changed_;

  mutable common::Mutex mu_;
  std::deque<Entry> queue_ ABSL_GUARDED_BY(mu_);
  int64_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int64_t> per_owner_ ABSL_GUARDED_BY(mu_);
  int64_t want_ ABSL_GUARDED_BY(mu_) = 1;  // units the worker waits for
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace server

#endif  // SERVER_BATCH_QUEUE_H_
