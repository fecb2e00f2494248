#include "trainer/data_loader.h"

#include <filesystem>
#include <set>

#include "clip/tokenizer.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tiny_dataset.h"
#include "trainer/dataset.h"

namespace trainer {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

class DataLoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(::testing::TempDir() + "/loader_data");
    ASSERT_OK(tests::GenerateTinyDataset(*root_));
  }
  void SetUp() override {
    auto ds = PairDataset::Load(*root_ + "/train/train_label.txt",
                                *root_ + "/train/images");
    ASSERT_OK(ds);
    dataset_ = std::make_unique<PairDataset>(std::move(*ds));
    clip::BpeTrainOptions t;
    t.num_merges = 50;
    auto tok = clip::BpeTokenizer::Train(dataset_->texts(), t);
    ASSERT_OK(tok);
    tokenizer_ = std::move(*tok);
  }
  LoaderOptions Options() {
    LoaderOptions o;
    o.batch_size = 4;
    o.seed = 7;
    o.workers = 2;
    o.preprocess.resolution = 16;
    o.preprocess.mode = clip::ResizeMode::kPad;
    return o;
  }
  std::vector<Batch> All(DataLoader& loader, int64_t epoch, int64_t start = 0) {
    loader.StartEpoch(epoch, start);
    std::vector<Batch> out;
    while (true) {
      auto b = loader.Next();
      EXPECT_TRUE(b.ok()) << b.status();
      if (!b.ok() || !b->has_value()) break;
      out.push_back(std::move(**b));
    }
    return out;
  }
  static std::string* root_;
  std::unique_ptr<PairDataset> dataset_;
  std::unique_ptr<clip::BpeTokenizer> tokenizer_;
};

std::string* DataLoaderTest::root_ = nullptr;

TEST_F(DataLoaderTest, EpochVisitsEveryPairOnceInASeededOrder) {
  DataLoader loader(dataset_.get(), tokenizer_.get(), Options());
  EXPECT_EQ(loader.batches_per_epoch(), 6);
  std::vector<Batch> batches = All(loader, 0);
  ASSERT_EQ(batches.size(), 6u);
  std::set<int32_t> seen;
  for (const Batch& b : batches) {
    for (int32_t p : b.pair_indices) seen.insert(p);
    EXPECT_EQ(b.pixels.size(), 4u * 3 * 16 * 16);
    EXPECT_EQ(b.tokens.size(), 4u * 77);
  }
  EXPECT_EQ(seen.size(), 24u);
  EXPECT_EQ(loader.EpochOrder(0), loader.EpochOrder(0));
  EXPECT_NE(loader.EpochOrder(0), loader.EpochOrder(1));
  // Attribute ids and tokens follow the pair.
  const Batch& b = batches[0];
  const Pair& p = dataset_->pairs()[b.pair_indices[1]];
  EXPECT_EQ(b.attributes[1], p.attribute);
  std::vector<int64_t> want = tokenizer_->Tokenize(dataset_->texts()[p.text]);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), b.tokens.begin() + 77));
}

TEST_F(DataLoaderTest, WorkerCountDoesNotChangeTheBatches) {
  LoaderOptions one = Options();
  one.workers = 1;
  LoaderOptions three = Options();
  three.workers = 3;
  DataLoader a(dataset_.get(), tokenizer_.get(), one);
  DataLoader b(dataset_.get(), tokenizer_.get(), three);
  std::vector<Batch> x = All(a, 2), y = All(b, 2);
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].pair_indices, y[i].pair_indices);
    EXPECT_EQ(x[i].pixels, y[i].pixels);  // augmentation included
  }
}

TEST_F(DataLoaderTest, RanksSplitTheGlobalBatch) {
  LoaderOptions single = Options();
  single.batch_size = 8;
  DataLoader whole(dataset_.get(), tokenizer_.get(), single);
  std::vector<Batch> global = All(whole, 1);
  std::vector<std::vector<Batch>> per_rank;
  for (int r = 0; r < 2; ++r) {
    LoaderOptions o = Options();
    o.rank = r;
    o.world_size = 2;
    DataLoader loader(dataset_.get(), tokenizer_.get(), o);
    EXPECT_EQ(loader.batches_per_epoch(), 3);
    per_rank.push_back(All(loader, 1));
  }
  ASSERT_EQ(global.size(), 3u);
  for (size_t i = 0; i < global.size(); ++i) {
    std::vector<int32_t> joined = per_rank[0][i].pair_indices;
    joined.insert(joined.end(), per_rank[1][i].pair_indices.begin(),
                  per_rank[1][i].pair_indices.end());
    EXPECT_EQ(joined, global[i].pair_indices);
    std::vector<float> pixels = per_rank[0][i].pixels;
    pixels.insert(pixels.end(), per_rank[1][i].pixels.begin(),
                  per_rank[1][i].pixels.end());
    EXPECT_EQ(pixels, global[i].pixels);
  }
}

TEST_F(DataLoaderTest, StartingMidEpochGivesTheSameRemainingBatches) {
  DataLoader loader(dataset_.get(), tokenizer_.get(), Options());
  std::vector<Batch> full = All(loader, 3);
  std::vector<Batch> tail = All(loader, 3, 4);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].index, 4);
  EXPECT_EQ(tail[0].pair_indices, full[4].pair_indices);
  EXPECT_EQ(tail[1].pixels, full[5].pixels);
}

TEST_F(DataLoaderTest, MissingImageStopsOrIsSkippedAndCounted) {
  const std::string victim = dataset_->ImagePath(dataset_->pairs()[0].image);
  const std::string moved = victim + ".moved";
  std::filesystem::rename(victim, moved);
  {
    DataLoader loader(dataset_.get(), tokenizer_.get(), Options());
    loader.StartEpoch(0);
    absl::Status failure;
    while (true) {
      auto b = loader.Next();
      if (!b.ok()) {
        failure = b.status();
        break;
      }
      if (!b->has_value()) break;
    }
    EXPECT_THAT(
        failure,
        StatusIs(absl::StatusCode::kNotFound,
                 ::testing::AllOf(
                     HasSubstr(dataset_->images()[dataset_->pairs()[0].image]),
                     HasSubstr("--skip_bad_images"))));
  }
  {
    LoaderOptions o = Options();
    o.skip_bad_images = true;
    DataLoader loader(dataset_.get(), tokenizer_.get(), o);
    std::vector<Batch> batches = All(loader, 0);
    EXPECT_EQ(batches.size(), 6u);
    EXPECT_GE(loader.skipped_images(), 1);
  }
  std::filesystem::rename(moved, victim);
}

}  // namespace
}  // namespace trainer
