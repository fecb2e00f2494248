#include "server/batch_queue.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace server {
namespace {

using Clock = std::chrono::steady_clock;
using ::common_testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

struct FakeTask {
  int id = 0;
  int64_t units = 1;
  Clock::time_point due = Clock::now() + std::chrono::hours(1);
  std::string who;
  std::shared_ptr<std::atomic<bool>> gone =
      std::make_shared<std::atomic<bool>>(false);

  int64_t size() const { return units; }
  Clock::time_point deadline() const { return due; }
  bool cancelled() const { return gone->load(); }
  const std::string& owner() const { return who; }
};

using Queue = BatchQueue<FakeTask>;

// Records what the queue hands out. While `hold` is set, a batch whose
// first task has id 0 blocks the worker until Release(), so that the next
// tasks observably queue up behind it.
class Recorder {
 public:
  void Process(std::vector<std::unique_ptr<FakeTask>> batch) {
    std::vector<int> ids;
    for (const auto& t : batch) ids.push_back(t->id);
    if (ids.front() == 0) {
      started_.Notify();
      release_.WaitForNotification();
    }
    common::MutexLock lock(&mu_);
    batches_.push_back(ids);
    processed_ += static_cast<int>(ids.size());
  }
  void Drop(std::unique_ptr<FakeTask> task, absl::Status reason) {
    common::MutexLock lock(&mu_);
    dropped_.push_back({task->id, reason.code()});
  }
  void WaitStarted() { started_.WaitForNotification(); }
  void Release() { release_.Notify(); }
  // Waits until `n` tasks were processed or dropped.
  void WaitFor(int n) {
    common::MutexLock lock(&mu_);
    auto done = [&] {
      return processed_ + static_cast<int>(dropped_.size()) >= n;
    };
    mu_.Await(absl::Condition(&done));
  }
  std::vector<std::vector<int>> batches() {
    common::MutexLock lock(&mu_);
    return batches_;
  }
  std::vector<std::pair<int, absl::StatusCode>> dropped() {
    common::MutexLock lock(&mu_);
    return dropped_;
  }

 private:
  common::Notification started_, release_;
  common::Mutex mu_;
  std::vector<std::vector<int>> batches_;
  std::vector<std::pair<int, absl::StatusCode>> dropped_;
  int processed_ = 0;
};

std::unique_ptr<Queue> MakeQueue(Recorder* r, Queue::Options o) {
  return std::make_unique<Queue>(
      o,
      [r](std::vector<std::unique_ptr<FakeTask>> b) {
        r->Process(std::move(b));
      },
      [r](std::unique_ptr<FakeTask> t, absl::Status s) {
        r->Drop(std::move(t), s);
      });
}

std::unique_ptr<FakeTask> Task(int id, int64_t units, std::string who = "") {
  auto t = std::make_unique<FakeTask>();
  t->id = id;
  t->units = units;
  t->who = std::move(who);
  return t;
}

// Schedules task 0 and waits until the worker is blocked on it.
void Block(Queue& q, Recorder& r) {
  auto t = Task(0, 1);
  ASSERT_TRUE(q.Schedule(&t).ok());
  r.WaitStarted();
}

TEST(BatchQueueTest, FormsBatchesInArrivalOrderUpToMaxBatchSize) {
  Recorder r;
  Queue::Options o;
  o.max_batch_size = 64;
  auto q = MakeQueue(&r, o);
  Block(*q, r);
  for (auto [id, units] :
       {std::pair{1, 30}, {2, 30}, {3, 30}, {4, 10}, {5, 100}, {6, 1}}) {
    auto t = Task(id, units);
    ASSERT_TRUE(q->Schedule(&t).ok());
  }
  EXPECT_EQ(q->queued(), 201);
  r.Release();
  r.WaitFor(7);
  // 30+30 fits, +30 does not; a task larger than a batch goes alone.
  EXPECT_THAT(r.batches(),
              ElementsAre(ElementsAre(0), ElementsAre(1, 2), ElementsAre(3, 4),
                          ElementsAre(5), ElementsAre(6)));
  EXPECT_EQ(q->queued(), 0);
}

TEST(BatchQueueTest, LoneTaskIsServedWithoutWaitingForTheBatchTimeout) {
  Recorder r;
  Queue::Options o;
  o.batch_timeout = std::chrono::seconds(600);
  auto q = MakeQueue(&r, o);
  auto t = Task(1, 1);
  ASSERT_TRUE(q->Schedule(&t).ok());
  r.WaitFor(1);  // would wait out the 600 s timeout if the worker lingered
  EXPECT_THAT(r.batches(), ElementsAre(ElementsAre(1)));
}

TEST(BatchQueueTest, DropsExpiredAndCancelledTasksBeforeProcessing) {
  Recorder r;
  auto q = MakeQueue(&r, {});
  Block(*q, r);
  auto expired = Task(1, 5);
  expired->due = Clock::now() - std::chrono::milliseconds(1);
  auto cancelled = Task(2, 5);
  auto flag = cancelled->gone;
  auto live = Task(3, 5);
  ASSERT_TRUE(q->Schedule(&expired).ok());
  ASSERT_TRUE(q->Schedule(&cancelled).ok());
  ASSERT_TRUE(q->Schedule(&live).ok());
  flag->store(true);  // the caller gives up while queued
  r.Release();
  r.WaitFor(4);
  EXPECT_THAT(r.batches(), ElementsAre(ElementsAre(0), ElementsAre(3)));
  EXPECT_THAT(r.dropped(),
              ElementsAre(Pair(1, absl::StatusCode::kDeadlineExceeded),
                          Pair(2, absl::StatusCode::kCancelled)));
}

TEST(BatchQueueTest, FullQueueRefusesAtOnceAfterDroppingDeadWork) {
  Recorder r;
  Queue::Options o;
  o.max_queue = 10;
  o.max_queue_per_owner = 10;
  auto q = MakeQueue(&r, o);
  Block(*q, r);
  auto first = Task(1, 6);
  auto flag = first->gone;
  ASSERT_TRUE(q->Schedule(&first).ok());
  auto second = Task(2, 6);
  EXPECT_THAT(q->Schedule(&second),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("queue is full")));
  ASSERT_NE(second, nullptr);  // a refused task stays with the caller
  EXPECT_EQ(q->queued(), 6);
  // Once the first caller has gone, its work no longer holds the queue.
  flag->store(true);
  EXPECT_TRUE(q->Schedule(&second).ok());
  EXPECT_THAT(r.dropped(), ElementsAre(Pair(1, absl::StatusCode::kCancelled)));
  EXPECT_EQ(q->queued(), 6);
  r.Release();
  r.WaitFor(3);
  EXPECT_THAT(r.batches(), ElementsAre(ElementsAre(0), ElementsAre(2)));
}

TEST(BatchQueueTest, OneOwnerCannotTakeMoreThanItsShare) {
  Recorder r;
  Queue::Options o;
  o.max_queue = 100;
  o.max_queue_per_owner = 40;
  auto q = MakeQueue(&r, o);
  Block(*q, r);
  auto a1 = Task(1, 30, "ipv4:10.0.0.1:5000");
  auto a2 = Task(2, 20, "ipv4:10.0.0.1:5000");
  auto b1 = Task(3, 30, "ipv4:10.0.0.2:6000");
  ASSERT_TRUE(q->Schedule(&a1).ok());
  EXPECT_THAT(q->Schedule(&a2), StatusIs(absl::StatusCode::kResourceExhausted,
                                         HasSubstr("per connection")));
  EXPECT_TRUE(q->Schedule(&b1).ok());
  r.Release();
  r.WaitFor(3);
  // The owner's share frees as its work leaves the queue.
  EXPECT_TRUE(q->Schedule(&a2).ok());
  r.WaitFor(4);
}

TEST(BatchQueueTest, DefaultShareIsHalfTheQueue) {
  Recorder r;
  Queue::Options o;
  o.max_queue = 64;
  auto q = MakeQueue(&r, o);
  EXPECT_EQ(q->options().max_queue_per_owner, 32);
}

TEST(BatchQueueTest, StopFinishesQueuedWorkThenRefuses) {
  Recorder r;
  auto q = MakeQueue(&r, {});
  Block(*q, r);
  for (int id = 1; id <= 3; ++id) {
    auto t = Task(id, 1);
    ASSERT_TRUE(q->Schedule(&t).ok());
  }
  std::thread stopper([&] { q->Stop(); });
  r.Release();
  stopper.join();
  EXPECT_THAT(r.batches(), ElementsAre(ElementsAre(0), ElementsAre(1, 2, 3)));
  auto late = Task(4, 1);
  EXPECT_THAT(q->Schedule(&late),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
}

TEST(BatchQueueTest, CallbacksMayCallBackIntoTheQueue) {
  Queue* queue = nullptr;
  std::atomic<int> processed{0};
  common::Notification dropped, both_processed;
  auto q = std::make_unique<Queue>(
      Queue::Options{},
      [&](std::vector<std::unique_ptr<FakeTask>> batch) {
        (void)queue->queued();  // would deadlock if the lock were held
        if (batch.front()->id == 1) {
          auto next = Task(2, 1);
          EXPECT_TRUE(queue->Schedule(&next).ok());
        }
        if ((processed += static_cast<int>(batch.size())) == 2) {
          both_processed.Notify();
        }
      },
      [&](std::unique_ptr<FakeTask>, absl::Status) {
        (void)queue->queued();
        dropped.Notify();
      });
  queue = q.get();
  auto t = Task(1, 1);
  ASSERT_TRUE(q->Schedule(&t).ok());
  auto expired = Task(3, 1);
  expired->due = Clock::now() - std::chrono::seconds(1);
  ASSERT_TRUE(q->Schedule(&expired).ok());
  dropped.WaitForNotification();
  both_processed.WaitForNotification();
  q->Stop();
  EXPECT_EQ(processed.load(), 2);
}

}  // namespace
}  // namespace server
