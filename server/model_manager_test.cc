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
#include "clip/safetensors.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "eval/attributes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/manifest.h"
#include "index/model_version.h"
#include "tests/test_model.h"

namespace server {
namespace {

namespace fs = std::filesystem;
using ::common_testing::IsOk;
using ::common_testing::StatusIs;
using ::testing::_;
using ::testing::AllOf;
using ::testing::ElementsAre;
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

ModelManager::Options OptionsFor(const std::string& models,
                                 const std::string& policy,
                                 int64_t default_version = 0) {
  ModelManager::Options o = OptionsFor(models);
  absl::StatusOr<VersionPolicy> p = ParseVersionPolicy(policy);
  EXPECT_OK(p);
  if (p.ok()) o.policy = *p;
  o.default_version = default_version;
  return o;
}

// The version `Get(version)` answers with; -1 when it fails.
int64_t Served(const ModelManager& m, int64_t version) {
  auto model = m.Get(version);
  return model.ok() ? (*model)->version : -1;
}

TEST(VersionPolicyTest, ParsesLatestAndSpecificPolicies) {
  struct Case {
    std::string text;
    VersionPolicy want;
  };
  for (const Case& c :
       std::vector<Case>{{"latest", VersionPolicy::Latest(1)},
                         {"latest:1", VersionPolicy::Latest(1)},
                         {" latest:2 ", VersionPolicy::Latest(2)},
                         {"latest:16", VersionPolicy::Latest(16)},
                         {"specific:3,5,8", VersionPolicy::Specific({3, 5, 8})},
                         {"8,3,5", VersionPolicy::Specific({3, 5, 8})},
                         {"specific: 7 , 2", VersionPolicy::Specific({2, 7})},
                         {"4", VersionPolicy::Specific({4})}}) {
    absl::StatusOr<VersionPolicy> p = ParseVersionPolicy(c.text);
    ASSERT_OK(p) << c.text;
    EXPECT_EQ(*p, c.want) << c.text << " read as " << p->ToString();
    // ToString reads back as the same policy.
    absl::StatusOr<VersionPolicy> again = ParseVersionPolicy(p->ToString());
    ASSERT_OK(again);
    EXPECT_EQ(*again, *p) << p->ToString();
  }
  EXPECT_EQ(VersionPolicy::Specific({8, 3, 5}).ToString(), "specific:3,5,8");
  EXPECT_EQ(VersionPolicy().ToString(), "latest:1");  // the default
  EXPECT_TRUE(VersionPolicy::Latest(2).Allows(99));
  EXPECT_TRUE(VersionPolicy::Specific({3, 5}).Allows(5));
  EXPECT_FALSE(VersionPolicy::Specific({3, 5}).Allows(4));
}

TEST(VersionPolicyTest, RefusesOtherValuesNamingTheFlagAndTheFault) {
  struct Case {
    std::string text;
    std::string what;
  };
  for (const Case& c : std::vector<Case>{
           {"", "empty"},
           {"  ", "empty"},
           {"latest:0", "latest:N needs N in [1, 16], not \"0\""},
           {"latest:17", "latest:N needs N in [1, 16], not \"17\""},
           {"latest:two", "not \"two\""},
           {"latest:", "not \"\""},
           {"latest2", "not a policy"},
           {"newest", "\"newest\" is not a policy or version"},
           {"specific:", "no version listed"},
           {"specific:3,,5", "an empty version in the list"},
           {"specific:3,x", "\"x\" is not a version"},
           {"specific:0",
            "\"0\" is not a version (versions are integers >= 1)"},
           {"3,-1", "\"-1\" is not"},
           {"specific:3,5,3", "version 3 is listed twice"},
           {"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
            "17 versions listed, at most 16"}}) {
    EXPECT_THAT(ParseVersionPolicy(c.text),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("--model_versions"), HasSubstr(c.what),
                               HasSubstr("expected latest"))))
        << "\"" << c.text << "\"";
  }
}

TEST(VersionPolicyTest, TheDefaultVersionMustFitThePolicy) {
  EXPECT_OK(ValidateDefaultVersion(VersionPolicy::Latest(1), 0));
  EXPECT_OK(ValidateDefaultVersion(VersionPolicy::Latest(2), 9));
  EXPECT_OK(ValidateDefaultVersion(VersionPolicy::Specific({3, 5}), 5));
  EXPECT_OK(ValidateDefaultVersion(VersionPolicy::Specific({3, 5}), 0));
  EXPECT_THAT(ValidateDefaultVersion(VersionPolicy::Specific({3, 5}), 4),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--default_version: version 4"),
                             HasSubstr("--model_versions=specific:3,5"))));
  EXPECT_THAT(ValidateDefaultVersion(VersionPolicy::Latest(1), -1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--default_version: -1 is not >= 0")));
}

TEST(ModelManagerTest, LatestTwoServesTheTwoNewestAndDropsTheOldest) {
  const std::string models = FreshDir("mm_latest2");
  Counts counts;
  ModelManager m(OptionsFor(models, "latest:2"), counts.callback());
  EXPECT_THAT(m.Get(0), StatusIs(absl::StatusCode::kUnavailable,
                                 HasSubstr("no model version is loaded yet")));
  EXPECT_THAT(m.Get(1), StatusIs(absl::StatusCode::kUnavailable, _));
  EXPECT_EQ(m.DefaultVersion(), 0);
  EXPECT_TRUE(m.LoadedVersions().empty());
  Publish(models, 1);
  Publish(models, 2);
  Publish(models, 3);
  ASSERT_OK(m.Poll());
  EXPECT_THAT(m.LoadedVersions(), ElementsAre(2, 3));
  EXPECT_EQ(m.DefaultVersion(), 3);
  EXPECT_EQ(Served(m, 0), 3);
  EXPECT_EQ(Served(m, 2), 2);
  EXPECT_EQ(Served(m, 3), 3);
  EXPECT_EQ(m.Current()->version, 3);
  EXPECT_THAT(m.Get(1),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("model_version: version 1 is not loaded "
                                 "(loaded: 2, 3)")));
  EXPECT_EQ(counts.loaded.load(), 2);
  // A request holding version 2 finishes on it after it is dropped.
  absl::StatusOr<std::shared_ptr<const ServedModel>> held = m.Get(2);
  ASSERT_OK(held);
  const int64_t v4 = Publish(models, 4);
  ASSERT_OK(m.Poll());
  EXPECT_THAT(m.LoadedVersions(), ElementsAre(3, v4));
  EXPECT_EQ(Served(m, 0), v4);
  EXPECT_THAT(m.Get(2), StatusIs(absl::StatusCode::kNotFound,
                                 HasSubstr("(loaded: 3, 4)")));
  EXPECT_EQ((*held)->version, 2);
  EXPECT_OK((*held)->encoder->EncodeTexts({"a red car"}));
  EXPECT_EQ(counts.loaded.load(), 3);
  EXPECT_OK(m.Poll());  // nothing new: nothing loads
  EXPECT_EQ(counts.loaded.load(), 3);
  EXPECT_EQ(counts.failed.load(), 0);
}

TEST(ModelManagerTest, LatestTwoFillsUpWithOlderVersionsWhenTheNewestFails) {
  const std::string models = FreshDir("mm_latest2_fail");
  Publish(models, 1);
  Publish(models, 2);
  const int64_t v3 = Publish(models, 3);
  ASSERT_OK(common::WriteFileAtomically(WeightsOf(models, v3), "not weights"));
  Counts counts;
  ModelManager m(OptionsFor(models, "latest:2"), counts.callback());
  EXPECT_FALSE(m.Poll().ok());
  EXPECT_THAT(m.LoadedVersions(), ElementsAre(1, 2));
  EXPECT_EQ(m.DefaultVersion(), 2);
  EXPECT_EQ(m.failures(v3), 1);
  EXPECT_EQ(counts.loaded.load(), 2);
  EXPECT_EQ(counts.failed.load(), 1);
}

TEST(ModelManagerTest, SpecificPolicyLoadsOnlyTheNamedVersions) {
  const std::string models = FreshDir("mm_specific");
  Publish(models, 1);
  Publish(models, 2);
  const int64_t v3 = Publish(models, 3);
  ASSERT_OK(common::WriteFileAtomically(WeightsOf(models, v3), "not weights"));
  Counts counts;
  ModelManager m(OptionsFor(models, "specific:1,3,5"), counts.callback());
  // Version 3 fails; version 1 loads all the same. Version 2 is not named.
  EXPECT_FALSE(m.Poll().ok());
  EXPECT_THAT(m.LoadedVersions(), ElementsAre(1));
  EXPECT_EQ(m.failures(v3), 1);
  EXPECT_EQ(Served(m, 0), 1);
  EXPECT_THAT(m.Get(2), StatusIs(absl::StatusCode::kNotFound,
                                 HasSubstr("version 2 is not loaded")));
  Publish(models, 4);
  Publish(models, 5);
  EXPECT_OK(m.Poll());  // 3 waits out its backoff, 4 is not named
  EXPECT_THAT(m.LoadedVersions(), ElementsAre(1, 5));
  EXPECT_EQ(m.DefaultVersion(), 5);
  EXPECT_EQ(counts.loaded.load(), 2);
  EXPECT_EQ(counts.failed.load(), 1);
}

TEST(ModelManagerTest, TheDefaultVersionIsHonouredWhileItIsLoaded) {
  const std::string models = FreshDir("mm_default");
  Publish(models, 1);
  Publish(models, 2);
  Publish(models, 3);
  {
    ModelManager m(OptionsFor(models, "latest:3", 2), nullptr);
    ASSERT_OK(m.Poll());
    EXPECT_THAT(m.LoadedVersions(), ElementsAre(1, 2, 3));
    EXPECT_EQ(m.DefaultVersion(), 2);
    EXPECT_EQ(Served(m, 0), 2);
    EXPECT_EQ(m.Current()->version, 2);
    EXPECT_EQ(Served(m, 3), 3);
  }
  {
    ModelManager m(OptionsFor(models, "specific:1,3", 1), nullptr);
    ASSERT_OK(m.Poll());
    EXPECT_EQ(m.DefaultVersion(), 1);
    EXPECT_EQ(Served(m, 0), 1);
  }
  {
    // latest:2 does not load version 1 to make it the default: the newest
    // loaded version stands in.
    ModelManager m(OptionsFor(models, "latest:2", 1), nullptr);
    ASSERT_OK(m.Poll());
    EXPECT_THAT(m.LoadedVersions(), ElementsAre(2, 3));
    EXPECT_EQ(m.DefaultVersion(), 3);
    EXPECT_EQ(Served(m, 0), 3);
  }
  {
    // A default that appears later is loaded first and takes over at once;
    // each load reports the state after the versions it displaced left.
    struct Seen {
      int64_t version, default_version;
      std::vector<int64_t> loaded;
    };
    std::vector<Seen> seen;
    ModelManager* manager = nullptr;
    ModelManager m(OptionsFor(models, "latest:2", 4),
                   [&](const ServedModel* loaded, const absl::Status&) {
                     if (loaded == nullptr) return;
                     seen.push_back({loaded->version, manager->DefaultVersion(),
                                     manager->LoadedVersions()});
                   });
    manager = &m;
    ASSERT_OK(m.Poll());
    EXPECT_EQ(m.DefaultVersion(), 3);
    seen.clear();
    Publish(models, 4);
    Publish(models, 5);
    ASSERT_OK(m.Poll());
    EXPECT_THAT(m.LoadedVersions(), ElementsAre(4, 5));
    EXPECT_EQ(m.DefaultVersion(), 4);
    EXPECT_EQ(Served(m, 0), 4);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].version, 4);
    EXPECT_EQ(seen[0].default_version, 4);
    EXPECT_THAT(seen[0].loaded, ElementsAre(3, 4));
    EXPECT_EQ(seen[1].version, 5);
    EXPECT_EQ(seen[1].default_version, 4);
    EXPECT_THAT(seen[1].loaded, ElementsAre(4, 5));
  }
}

TEST(ModelManagerTest, ARemovedVersionServesUntilThePolicyMovesPastIt) {
  const std::string models = FreshDir("mm_removed");
  Publish(models, 1);
  const int64_t v2 = Publish(models, 2);
  ModelManager m(OptionsFor(models), nullptr);
  ASSERT_OK(m.Poll());
  EXPECT_THAT(m.LoadedVersions(), ElementsAre(v2));
  fs::remove_all(models + "/" + std::to_string(v2));
  // Not rolled back to version 1, and not left without a version.
  ASSERT_OK(m.Poll());
  EXPECT_THAT(m.LoadedVersions(), ElementsAre(v2));
  const int64_t v3 = Publish(models, 3);
  ASSERT_OK(m.Poll());
  EXPECT_THAT(m.LoadedVersions(), ElementsAre(v3));
}

// Publishes a copy of `version` whose text projection is all NaN, with the
// manifest's weights hash recomputed: a version that loads and verifies but
// cannot compute an embedding.
int64_t PublishNanCopy(const std::string& models, int64_t version) {
  const std::string source = models + "/" + std::to_string(version);
  auto writer = gallery::VersionWriter::Begin(models);
  EXPECT_OK(writer);
  if (!writer.ok()) return -1;
  for (const auto& entry : fs::directory_iterator(source)) {
    if (entry.path().filename() == gallery::kManifestFile) continue;
    fs::copy_file(entry.path(), (*writer)->staging_dir() + "/" +
                                    entry.path().filename().string());
  }
  const std::string weights = (*writer)->staging_dir() + "/model.safetensors";
  absl::StatusOr<clip::SafetensorsFile> file =
      clip::SafetensorsFile::Read(weights);
  EXPECT_OK(file);
  if (!file.ok()) return -1;
  clip::SafetensorsWriter w;
  bool poisoned = false;
  for (const std::string& name : file->names()) {
    absl::StatusOr<clip::TensorView> t = file->Get(name);
    EXPECT_OK(t);
    if (!t.ok()) return -1;
    // All bytes 0xff: a NaN in every floating-point type.
    const std::string nan(t->data.size(), '\xff');
    const bool poison = name.find("text_projection") != std::string::npos;
    poisoned |= poison;
    EXPECT_OK(w.Add(name, t->dtype, t->shape,
                    poison ? absl::string_view(nan) : t->data));
  }
  EXPECT_TRUE(poisoned) << "no text_projection in " << weights;
  for (const auto& [key, value] : file->metadata()) w.SetMetadata(key, value);
  EXPECT_OK(w.WriteFile(weights));
  absl::StatusOr<gallery::Manifest> manifest =
      gallery::ReadManifest(source + "/" + gallery::kManifestFile);
  EXPECT_OK(manifest);
  if (!manifest.ok()) return -1;
  absl::StatusOr<int64_t> published = (*writer)->Publish(*manifest);
  EXPECT_OK(published);
  return published.ok() ? *published : -1;
}

TEST(ModelManagerTest, AVersionThatFailsItsWarmUpIsRefused) {
  const std::string models = FreshDir("mm_warmup");
  const int64_t v1 = Publish(models, 1);
  const int64_t v2 = PublishNanCopy(models, v1);
  ASSERT_EQ(v2, v1 + 1);
  Counts counts;
  ModelManager m(OptionsFor(models), counts.callback());
  EXPECT_THAT(m.Poll(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(models + "/2: warm-up: "),
                             HasSubstr("the text embedding holds nan"))));
  // Never visible; the older version serves; retried after the backoff.
  EXPECT_THAT(m.LoadedVersions(), ElementsAre(v1));
  EXPECT_EQ(Served(m, 0), v1);
  EXPECT_THAT(m.Get(v2), StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_EQ(m.failures(v2), 1);
  EXPECT_EQ(counts.loaded.load(), 1);
  EXPECT_EQ(counts.failed.load(), 1);
}

// A mid-grey image, preprocessed: [3, r, r] of the same value per channel.
std::vector<float> GreyPixels(int64_t r) {
  return std::vector<float>(3 * r * r, 0.1f);
}

TEST(ModelManagerTest, LoadsTheImageTowerUnlessAskedNotTo) {
  const std::string models = FreshDir("mm_image_tower");
  Publish(models, 1);
  {
    ModelManager m(OptionsFor(models), nullptr);  // image_tower by default
    ASSERT_OK(m.Poll());
    auto served = m.Current();
    ASSERT_NE(served, nullptr);
    EXPECT_TRUE(served->image_queries);
    EXPECT_GT(served->warmup_seconds, 0);
    const int64_t r = served->encoder->config().image_resolution;
    absl::StatusOr<std::vector<float>> e =
        served->encoder->EncodeImages(GreyPixels(r), 1);
    ASSERT_OK(e);
    EXPECT_EQ(static_cast<int64_t>(e->size()), served->encoder->embed_dim());
  }
  ModelManager::Options o = OptionsFor(models);
  o.image_tower = false;
  ModelManager m(o, nullptr);
  ASSERT_OK(m.Poll());
  auto served = m.Current();
  ASSERT_NE(served, nullptr);
  EXPECT_FALSE(served->image_queries);
  const int64_t r = served->encoder->config().image_resolution;
  EXPECT_THAT(served->encoder->EncodeImages(GreyPixels(r), 1),
              StatusIs(absl::StatusCode::kFailedPrecondition, _));
  EXPECT_OK(served->encoder->EncodeTexts({"a red car"}));
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
