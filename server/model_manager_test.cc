#include "server/model_manager.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "eval/attributes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_model.h"

namespace server {
namespace {

namespace fs = std::filesystem;
using ::common_testing::IsOk;
using ::common_testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

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

// A version of 6 images with attribute heads: every probability 0.5.
tests::TestVersionOptions WithHeads() {
  tests::TestVersionOptions o = tests::SampleVersion(6);
  o.attributes.image_probs.assign(6 * eval::AttributeLayout::kSize, 0.5f);
  o.attributes.rerank_weights = "category=0.5,pedestrian=0.1,vehicle=0.2";
  o.attributes.rerank_candidates = 50;
  return o;
}

TEST(ModelManagerTest, LoadsAttributeHeadsWithTheManifestsOrTheServersRerank) {
  const std::string models = FreshDir("mm_heads");
  Publish(models, 1);  // without heads
  ASSERT_OK(tests::PublishTestVersion(models, WithHeads()));
  {
    ModelManager::Options o = OptionsFor(models);
    ModelManager m(o, nullptr);
    ASSERT_OK(m.Poll());
    auto served = m.Current();
    ASSERT_NE(served, nullptr);
    EXPECT_EQ(served->version, 2);
    ASSERT_TRUE(served->has_attribute_heads());
    EXPECT_EQ(served->text_head->dim(), served->index->dim());
    EXPECT_EQ(served->attribute_probs.size(),
              static_cast<size_t>(6 * eval::AttributeLayout::kSize));
    EXPECT_EQ(served->rerank_weights.ToString(),
              "category=0.5,pedestrian=0.1,vehicle=0.2");
    EXPECT_EQ(served->rerank_candidates, 50);
    EXPECT_TRUE(served->reranks());
  }
  struct Case {
    int candidates;
    std::optional<rerank::RerankWeights> weights;
    int want_candidates;
    std::string want_weights;
  };
  for (const Case& c : std::vector<Case>{
           {0, std::nullopt, 0, "category=0.5,pedestrian=0.1,vehicle=0.2"},
           {7, std::nullopt, 7, "category=0.5,pedestrian=0.1,vehicle=0.2"},
           {-1, rerank::RerankWeights{0, 0, 2}, 50,
            "category=0,pedestrian=0,vehicle=2"},
           {-1, rerank::RerankWeights{}, 0,
            "category=0,pedestrian=0,vehicle=0"}}) {
    ModelManager::Options o = OptionsFor(models);
    o.rerank_candidates = c.candidates;
    o.rerank_weights = c.weights;
    ModelManager m(o, nullptr);
    ASSERT_OK(m.Poll());
    auto served = m.Current();
    ASSERT_NE(served, nullptr);
    EXPECT_TRUE(served->has_attribute_heads());  // routing stays on
    EXPECT_EQ(served->rerank_candidates, c.want_candidates) << c.candidates;
    EXPECT_EQ(served->rerank_weights.ToString(), c.want_weights);
  }
  // The version without heads routes nothing and re-ranks nothing.
  const std::string old_models = FreshDir("mm_no_heads");
  Publish(old_models, 1);
  ModelManager m(OptionsFor(old_models), nullptr);
  ASSERT_OK(m.Poll());
  EXPECT_FALSE(m.Current()->has_attribute_heads());
  EXPECT_FALSE(m.Current()->reranks());
  EXPECT_TRUE(m.Current()->attribute_probs.empty());
}

TEST(ModelManagerTest, AttributeFilesThatDoNotFitTheVersionAreRefused) {
  constexpr int k = eval::AttributeLayout::kSize;
  struct Case {
    std::string name;
    std::function<void(tests::TestAttributes&)> spoil;
    absl::StatusCode code;
    std::string file;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"rows", [](tests::TestAttributes& a) { a.image_probs.resize(5 * k); },
       absl::StatusCode::kFailedPrecondition, "/1/embeddings.safetensors",
       absl::StrCat("attribute_probs is F32 [5, ", k, "]")},
      {"layout",
       [](tests::TestAttributes& a) { a.layout = "category2,flags21"; },
       absl::StatusCode::kFailedPrecondition, "/1/manifest.json",
       "attribute_layout \"category2,flags21\""},
      {"head_layout",
       [](tests::TestAttributes& a) { a.head_layout = "category2,flags20"; },
       absl::StatusCode::kFailedPrecondition, "/1/model.safetensors",
       "attribute heads of layout \"category2,flags20\""},
      {"not_probabilities",
       [](tests::TestAttributes& a) { a.image_probs[3] = 1.5f; },
       absl::StatusCode::kDataLoss, "/1/embeddings.safetensors",
       "not a probability"},
      {"weights",
       [](tests::TestAttributes& a) { a.rerank_weights = "category=-1"; },
       absl::StatusCode::kFailedPrecondition, "/1/manifest.json",
       "rerank_weights"},
  };
  for (const Case& c : cases) {
    const std::string models = FreshDir("mm_spoilt_" + c.name);
    tests::TestVersionOptions v = WithHeads();
    c.spoil(v.attributes);
    ASSERT_OK(tests::PublishTestVersion(models, v));
    Counts counts;
    ModelManager m(OptionsFor(models), counts.callback());
    EXPECT_THAT(m.Poll(), StatusIs(c.code, AllOf(HasSubstr(models + c.file),
                                                 HasSubstr(c.what))))
        << c.name;
    EXPECT_EQ(m.Current(), nullptr) << c.name;
    EXPECT_EQ(m.failures(1), 1) << c.name;
    EXPECT_EQ(counts.failed.load(), 1) << c.name;
  }
}

}  // namespace
}  // namespace server
