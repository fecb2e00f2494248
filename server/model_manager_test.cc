#include "server/model_manager.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/file_util.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_model.h"

namespace server {
namespace {

namespace fs = std::filesystem;
using ::common_testing::IsOk;

std::string FreshDir(const std::string& name) {
  std::string d = ::testing::TempDir() + "/" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

int64_t Publish(const std::string& models, uint64_t seed) {
  absl::StatusOr<int64_t> v =
      tests::PublishTestVersion(models, tests::SampleVersion(6, seed));
  EXPECT_OK(v);
  return v.ok() ? *v : -1;
}

std::string WeightsOf(const std::string& models, int64_t version) {
  return models + "/" + std::to_string(version) + "/model.safetensors";
}

struct Counts {
  std::atomic<int> loaded{0}, failed{0};
  ModelManager::LoadCallback callback() {
    return [this](const ServedModel* m, const absl::Status&) {
      (m != nullptr ? loaded : failed).fetch_add(1);
    };
  }
};

ModelManager::Options OptionsFor(const std::string& models) {
  ModelManager::Options o;
  o.models_dir = models;
  return o;
}

TEST(ModelManagerTest, ServesTheNewestVersionAndSwapsInNewerOnes) {
  const std::string models = FreshDir("mm_swap");
  Counts counts;
  ModelManager m(OptionsFor(models), counts.callback());
  EXPECT_OK(m.Poll());
  EXPECT_EQ(m.Current(), nullptr);
  const int64_t v1 = Publish(models, 1);
  EXPECT_OK(m.Poll());
  ASSERT_NE(m.Current(), nullptr);
  EXPECT_EQ(m.Current()->version, v1);
  auto held = m.Current();
  const int64_t v2 = Publish(models, 2);
  EXPECT_OK(m.Poll());
  EXPECT_EQ(m.Current()->version, v2);
  EXPECT_EQ(held->version, v1);  // a request holding v1 keeps it
  EXPECT_OK(m.Poll());           // nothing newer: no reload
  EXPECT_EQ(counts.loaded.load(), 2);
  EXPECT_EQ(counts.failed.load(), 0);
}

TEST(ModelManagerTest, FailedVersionIsRetriedAfterItsBackoff) {
  const std::string models = FreshDir("mm_retry");
  Counts counts;
  ModelManager::Options o = OptionsFor(models);
  o.retry_initial = std::chrono::milliseconds(300);
  o.retry_max = std::chrono::milliseconds(300);
  ModelManager m(o, counts.callback());
  const int64_t v1 = Publish(models, 1);
  ASSERT_OK(m.Poll());
  const int64_t v2 = Publish(models, 2);
  // A transient fault: the weights read back wrong once.
  const std::string weights = WeightsOf(models, v2);
  absl::StatusOr<std::string> read = common::ReadFile(weights);
  ASSERT_OK(read);
  const std::string good = *read;
  ASSERT_OK(
      common::WriteFileAtomically(weights, good.substr(0, good.size() / 2)));
  EXPECT_FALSE(m.Poll().ok());
  EXPECT_EQ(m.failures(v2), 1);
  EXPECT_EQ(m.Current()->version, v1);  // still serving
  // Within the backoff the version is not tried again.
  EXPECT_OK(m.Poll());
  EXPECT_EQ(m.failures(v2), 1);
  ASSERT_OK(common::WriteFileAtomically(weights, good));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_OK(m.Poll());
  EXPECT_EQ(m.Current()->version, v2);
  EXPECT_EQ(m.failures(v2), 0);
  EXPECT_EQ(counts.loaded.load(), 2);
  EXPECT_EQ(counts.failed.load(), 1);
}

TEST(ModelManagerTest, AFailedNewestVersionFallsBackToTheNextOlderOne) {
  const std::string models = FreshDir("mm_fallback");
  const int64_t v1 = Publish(models, 1);
  const int64_t v2 = Publish(models, 2);
  ASSERT_OK(common::WriteFileAtomically(WeightsOf(models, v2), "not weights"));
  Counts counts;
  ModelManager m(OptionsFor(models), counts.callback());
  // One poll (the only one with reloads off): v2 fails, v1 is served.
  EXPECT_FALSE(m.Poll().ok());
  ASSERT_NE(m.Current(), nullptr);
  EXPECT_EQ(m.Current()->version, v1);
  EXPECT_EQ(m.failures(v2), 1);
  EXPECT_EQ(counts.loaded.load(), 1);
}

TEST(ModelManagerTest, ConcurrentPollsLoadEachVersionOnce) {
  const std::string models = FreshDir("mm_concurrent");
  Publish(models, 1);
  const int64_t v2 = Publish(models, 2);
  ASSERT_OK(common::WriteFileAtomically(WeightsOf(models, v2), "not weights"));
  Counts counts;
  ModelManager m(OptionsFor(models), counts.callback());
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 3; ++j) (void)m.Poll();
    });
  }
  for (auto& t : threads) t.join();
  // v2 was tried once (its backoff is 30 s), v1 loaded once.
  EXPECT_EQ(m.failures(v2), 1);
  EXPECT_EQ(counts.failed.load(), 1);
  EXPECT_EQ(counts.loaded.load(), 1);
  ASSERT_NE(m.Current(), nullptr);
}

TEST(ModelManagerTest, PollingThreadPicksUpANewVersionAndStops) {
  const std::string models = FreshDir("mm_polling");
  Counts counts;
  ModelManager m(OptionsFor(models), counts.callback());
  m.StartPolling(0.02);
  const int64_t v1 = Publish(models, 1);
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (m.Current() == nullptr && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_NE(m.Current(), nullptr);
  EXPECT_EQ(m.Current()->version, v1);
  m.Stop();
  const int loaded = counts.loaded.load();
  Publish(models, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(counts.loaded.load(), loaded);  // no poll after Stop()
  EXPECT_EQ(m.Current()->version, v1);
}

}  // namespace
}  // namespace server
