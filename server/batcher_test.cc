#include "server/batcher.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_model.h"

namespace server {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using ::common_testing::StatusIs;
using ::testing::HasSubstr;

class BatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    models_dir_ = ::testing::TempDir() + "/batcher_models";
    fs::remove_all(models_dir_);
    fs::create_directories(models_dir_);
    const tests::TestVersionOptions o = tests::SampleVersion(12);
    texts_ = o.texts;
    ASSERT_OK(tests::PublishTestVersion(models_dir_, o));
    ModelManager::Options mo;
    mo.models_dir = models_dir_;
    models_ = std::make_unique<ModelManager>(mo, nullptr);
    ASSERT_OK(models_->Poll());
  }
  std::unique_ptr<Batcher> Make(Batcher::Options o, int cache_size = 0) {
    cache_ = std::make_unique<TextCache>(cache_size);
    return std::make_unique<Batcher>(o, models_.get(), cache_.get(), &metrics_);
  }
  static Clock::time_point Soon() {
    return Clock::now() + std::chrono::seconds(60);
  }

  std::string models_dir_;
  std::vector<std::string> texts_;
  std::unique_ptr<ModelManager> models_;
  std::unique_ptr<TextCache> cache_;
  Metrics metrics_;
};

TEST_F(BatcherTest, AnswersEachQueryInOrderWithItsOwnTopKAndCategory) {
  auto b = Make({});
  std::vector<Query> queries;
  for (int i = 0; i < 12; ++i) {
    Query q;
    q.text = texts_[i];
    q.top_k = 1 + i % 3;
    // The test gallery alternates vehicle (even rows) and pedestrian (odd).
    q.category = i % 2 == 0 ? gallery::Category::kVehicle
                            : gallery::Category::kPedestrian;
    queries.push_back(q);
  }
  absl::StatusOr<BatchResult> r = b->Run(queries, Soon());
  ASSERT_OK(r);
  ASSERT_EQ(r->results.size(), 12u);
  for (int i = 0; i < 12; ++i) {
    const auto& hits = r->results[i].hits;
    ASSERT_EQ(static_cast<int>(hits.size()), 1 + i % 3) << i;
    EXPECT_EQ(r->model->index->names()[hits[0].row], tests::ImageName(i))
        << "query " << i << " ranks its own image first";
    for (const auto& h : hits) {
      EXPECT_EQ(r->model->index->category(h.row), queries[i].category);
    }
  }
}

TEST_F(BatcherTest, RepeatedTextsComeFromTheCache) {
  auto b = Make({}, /*cache_size=*/100);
  Query q;
  q.text = texts_[3];
  ASSERT_OK(b->Run({q}, Soon()));
  absl::StatusOr<BatchResult> again = b->Run({q}, Soon());
  ASSERT_OK(again);
  EXPECT_EQ(again->model->index->names()[again->results[0].hits[0].row],
            tests::ImageName(3));
  const std::string text = metrics_.Render();
  EXPECT_THAT(text, HasSubstr("retrieval_cache_hits_total 1\n"));
  EXPECT_THAT(text,
              HasSubstr("retrieval_batch_size_count 1\n"));  // encoded once
}

TEST_F(BatcherTest, CancelledCallIsDroppedWithoutEncoding) {
  Batcher::Options o;
  o.delay_for_testing = std::chrono::milliseconds(300);
  auto b = Make(o);
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  common::Notification done;
  absl::Status status;
  Query q;
  q.text = texts_[0];
  b->Submit(
      {q, q, q}, Soon(),
      [&](absl::StatusOr<BatchResult> r) {
        status = r.status();
        done.Notify();
      },
      CallInfo{"ipv4:127.0.0.1:1", cancelled});
  cancelled->store(true);  // the client goes away while the call is queued
  done.WaitForNotification();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kCancelled, ::testing::_));
  EXPECT_THAT(metrics_.Render(), HasSubstr("retrieval_batch_size_count 0\n"));
  EXPECT_EQ(b->queued_texts(), 0);
}

TEST_F(BatcherTest, RefusalIsAnsweredOutsideTheQueueLock) {
  Batcher::Options o;
  o.max_queue = 2;
  o.max_queue_per_connection = 2;
  o.delay_for_testing = std::chrono::milliseconds(500);
  auto b = Make(o);
  Query q;
  q.text = texts_[1];
  common::Notification first_done;
  b->Submit({q, q}, Soon(),
            [&](absl::StatusOr<BatchResult>) { first_done.Notify(); });
  absl::Status refused;
  int64_t queued_seen = -1;
  b->Submit({q}, Soon(), [&](absl::StatusOr<BatchResult> r) {
    refused = r.status();
    queued_seen = b->queued_texts();  // re-enters the queue: no deadlock
  });
  EXPECT_THAT(refused,
              StatusIs(absl::StatusCode::kResourceExhausted, ::testing::_));
  EXPECT_EQ(queued_seen, 2);
  first_done.WaitForNotification();
}

TEST_F(BatcherTest, OneConnectionCannotFillTheQueue) {
  Batcher::Options o;
  o.max_queue = 8;
  o.delay_for_testing = std::chrono::milliseconds(500);
  auto b = Make(o);
  Query q;
  q.text = texts_[2];
  std::atomic<int> answered{0};
  auto count = [&](absl::StatusOr<BatchResult> r) {
    EXPECT_OK(r.status());
    ++answered;
  };
  b->Submit(std::vector<Query>(4, q), Soon(), count,
            CallInfo{"ipv4:10.0.0.1:1", nullptr});
  absl::Status greedy;
  b->Submit(
      {q}, Soon(), [&](absl::StatusOr<BatchResult> r) { greedy = r.status(); },
      CallInfo{"ipv4:10.0.0.1:1", nullptr});
  EXPECT_THAT(greedy, StatusIs(absl::StatusCode::kResourceExhausted,
                               HasSubstr("connection")));
  // Another connection still gets in.
  b->Submit(std::vector<Query>(4, q), Soon(), count,
            CallInfo{"ipv4:10.0.0.2:1", nullptr});
  b->Stop();
  EXPECT_EQ(answered.load(), 2);
}

TEST_F(BatcherTest, SubmitAfterStopIsUnavailable) {
  auto b = Make({});
  b->Stop();
  Query q;
  q.text = texts_[0];
  EXPECT_THAT(b->Run({q}, Soon()),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
}

}  // namespace
}  // namespace server
