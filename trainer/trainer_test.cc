// Training on a tiny generated dataset: learning happens, files appear,
// a resumed run reaches the same weights as an uninterrupted one.
#include "trainer/trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <random>

#include "clip/safetensors.h"
#include "common/status_matchers.h"
#include "eval/metric.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tiny_dataset.h"
#include "trainer/dataset.h"

namespace trainer {
namespace {

namespace fs = std::filesystem;
using ::common_testing::StatusIs;

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new std::string(::testing::TempDir() + "/trainer_data");
    ASSERT_OK(tests::GenerateTinyDataset(*data_, /*train_size=*/48,
                                         /*val_size=*/16, /*test_size=*/8));
  }
  TrainerOptions Options(const std::string& out) {
    TrainerOptions o;
    o.train_labels = *data_ + "/train/train_label.txt";
    o.train_images = *data_ + "/train/images";
    o.architecture = "tiny";
    o.train_vocab_merges = 100;
    o.preprocess.mode = clip::ResizeMode::kPad;
    o.epochs = 2;
    o.batch_size = 8;
    o.lr = 1e-3;
    o.warmup_steps = 2;
    o.output_dir = ::testing::TempDir() + "/" + out;
    fs::remove_all(o.output_dir);
    return o;
  }
  static std::string* data_;
};

std::string* TrainerTest::data_ = nullptr;

std::vector<float> Weights(const std::string& path, const std::string& name) {
  auto f = clip::SafetensorsFile::Read(path);
  EXPECT_TRUE(f.ok()) << f.status();
  auto v = f->GetF32(name);
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

TEST_F(TrainerTest, TrainsValidatesAndWritesEverything) {
  TrainerOptions o = Options("train_full");
  o.val_labels = *data_ + "/val/val_label.txt";
  o.val_images = *data_ + "/val/images";
  std::vector<double> losses;
  TrainerCallbacks cb;
  cb.on_step = [&](const StepStats& s) { losses.push_back(s.loss); };
  auto result = Train(o, DistributedConfig(), cb);
  ASSERT_OK(result);
  EXPECT_EQ(result->steps, 12);  // 48 pairs / 8 per step * 2 epochs
  ASSERT_EQ(result->epochs.size(), 2u);
  EXPECT_GE(result->epochs[1].val_map10, 0.0);
  EXPECT_LE(result->epochs[1].val_map10, 1.0);
  for (const char* f :
       {"model.safetensors", "model-last.safetensors", "bpe_vocab.txt.gz",
        "checkpoint-last.pt", "checkpoint-best.pt", "metrics_steps.csv",
        "metrics_epochs.csv", "training.png"}) {
    EXPECT_TRUE(fs::exists(o.output_dir + "/" + f)) << f;
  }
  ASSERT_EQ(losses.size(), 12u);
  for (double l : losses) EXPECT_TRUE(std::isfinite(l));
}

// Expected val mAP@10 of a random ranking of the val gallery (the mean
// over many seeded shuffles).
double ChanceMap10(const PairDataset& val) {
  std::mt19937_64 rng(7);
  std::vector<int64_t> order(val.images().size());
  std::iota(order.begin(), order.end(), 0);
  constexpr int kTrials = 2000;
  double sum = 0;
  for (int t = 0; t < kTrials; ++t) {
    std::shuffle(order.begin(), order.end(), rng);
    eval::MetricAccumulator acc;
    for (const auto& attrs : val.text_attributes()) {
      acc.Add(eval::ScoreRankedList(order, [&](int64_t img) {
        return std::find(attrs.begin(), attrs.end(),
                         val.image_attribute()[img]) != attrs.end();
      }));
    }
    sum += acc.Overall().map_at_10;
  }
  return sum / kTrials;
}

TEST_F(TrainerTest, EpochByEpochLearningLiftsValidationWellAboveChance) {
  TrainerOptions o = Options("train_epochs");
  o.val_labels = *data_ + "/val/val_label.txt";
  o.val_images = *data_ + "/val/images";
  o.epochs = 4;
  auto val = PairDataset::Load(o.val_labels, o.val_images);
  ASSERT_OK(val);
  const double chance = ChanceMap10(*val);

  auto trainer = Trainer::Create(o, DistributedConfig());
  ASSERT_OK(trainer);
  std::vector<double> map10;
  while (!(*trainer)->done()) {
    auto epoch = (*trainer)->RunEpoch();
    ASSERT_OK(epoch);
    EXPECT_EQ(epoch->epoch, static_cast<int>(map10.size()) + 1);
    map10.push_back(epoch->val_map10);
  }
  ASSERT_EQ(map10.size(), 4u);
  EXPECT_THAT((*trainer)->RunEpoch(),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  auto result = (*trainer)->Finish();
  ASSERT_OK(result);
  EXPECT_EQ(result->steps, 24);
  EXPECT_DOUBLE_EQ(result->last_val_map10, map10.back());
  EXPECT_DOUBLE_EQ(result->best_val_map10,
                   *std::max_element(map10.begin(), map10.end()));
  std::cout << "val mAP@10 by epoch:";
  for (double m : map10) std::cout << " " << m;
  std::cout << "; chance " << chance << "\n";
  EXPECT_GT(chance, 0.0);
  EXPECT_GT(map10.back(), 1.5 * chance);
}

TEST_F(TrainerTest, ResumedRunReachesTheSameWeights) {
  TrainerOptions straight = Options("train_straight");
  ASSERT_OK(Train(straight, DistributedConfig()));

  TrainerOptions killed = Options("train_killed");
  killed.interrupt_after_steps = 7;  // mid-epoch 2
  EXPECT_THAT(
      Train(killed, DistributedConfig()),
      StatusIs(absl::StatusCode::kAborted, ::testing::HasSubstr("step 7")));
  killed.interrupt_after_steps = 0;
  killed.resume = true;
  auto resumed = Train(killed, DistributedConfig());
  ASSERT_OK(resumed);
  EXPECT_EQ(resumed->steps, 12);
  for (const char* name :
       {"visual.conv1.weight", "transformer.resblocks.1.mlp.c_fc.weight",
        "logit_scale", "token_embedding.weight"}) {
    EXPECT_EQ(Weights(straight.output_dir + "/model-last.safetensors", name),
              Weights(killed.output_dir + "/model-last.safetensors", name))
        << name;
  }
  // The step log of the resumed run has each step once.
  std::ifstream csv(killed.output_dir + "/metrics_steps.csv");
  int lines = 0;
  for (std::string l; std::getline(csv, l);) ++lines;
  EXPECT_EQ(lines, 1 + 12);
}

// Attribute supervision: the heads train with the towers, are saved with the
// weights (and resumed like them), and each validation fits the re-ranking
// weights, which the weights file records.
TEST_F(TrainerTest, AttributeHeadsTrainAreSavedAndFitTheReranker) {
  TrainerOptions o = Options("train_attributes");
  o.val_labels = *data_ + "/val/val_label.txt";
  o.val_images = *data_ + "/val/images";
  o.image_attribute_loss_weight = 0.5;
  o.text_attribute_loss_weight = 0.5;
  o.rerank_candidates = 8;
  auto result = Train(o, DistributedConfig());
  ASSERT_OK(result);
  ASSERT_EQ(result->epochs.size(), 2u);
  for (const EpochStats& e : result->epochs) {
    EXPECT_GE(e.val_map10_reranked, 0);
    EXPECT_GE(e.val_map10_routed, 0);
    // The grid includes zero weights, so re-ranking never scores below the
    // cosine order of the same short lists.
    EXPECT_GE(e.val_map10_reranked, e.val_map10 - 0.02);
  }
  auto f = clip::SafetensorsFile::Read(o.output_dir + "/model.safetensors");
  ASSERT_OK(f);
  EXPECT_TRUE(f->contains("attribute_head.image.weight"));
  EXPECT_TRUE(f->contains("attribute_head.text.bias"));
  EXPECT_EQ(f->metadata().at("attribute_layout"),
            "category2,flags21,colour13,type8,brand67");
  EXPECT_THAT(f->metadata().at("rerank_weights"),
              ::testing::HasSubstr("pedestrian="));
  EXPECT_EQ(f->metadata().at("rerank_candidates"), "8");
  std::ifstream ablation(o.output_dir + "/rerank_ablation.txt");
  std::string text((std::istreambuf_iterator<char>(ablation)),
                   std::istreambuf_iterator<char>());
  EXPECT_THAT(text, ::testing::HasSubstr("+ re-ranking"));

  // Interrupted and resumed, the heads reach the same weights too.
  TrainerOptions killed = Options("train_attributes_killed");
  killed.image_attribute_loss_weight = 0.5;
  killed.text_attribute_loss_weight = 0.5;
  killed.epochs = 1;
  TrainerOptions straight = killed;
  straight.output_dir += "_straight";
  ASSERT_OK(Train(straight, DistributedConfig()));
  killed.interrupt_after_steps = 3;  // mid-epoch
  EXPECT_FALSE(Train(killed, DistributedConfig()).ok());
  killed.interrupt_after_steps = 0;
  killed.resume = true;
  ASSERT_OK(Train(killed, DistributedConfig()));
  for (const char* name :
       {"attribute_head.image.weight", "attribute_head.text.bias"}) {
    EXPECT_EQ(Weights(straight.output_dir + "/model-last.safetensors", name),
              Weights(killed.output_dir + "/model-last.safetensors", name))
        << name;
  }
  // Without the weights there are no heads.
  TrainerOptions plain = Options("train_no_attributes");
  plain.epochs = 1;
  ASSERT_OK(Train(plain, DistributedConfig()));
  auto p = clip::SafetensorsFile::Read(plain.output_dir + "/model.safetensors");
  ASSERT_OK(p);
  EXPECT_FALSE(p->contains("attribute_head.image.weight"));
  EXPECT_EQ(p->metadata().count("attribute_layout"), 0u);
}

// bf16 mixed precision: the same run stays close to float32 (same data,
// same seed), weights stay float32 and move, and fp16 is refused.
TEST_F(TrainerTest, Bf16MixedPrecisionTracksFloat32Training) {
  TrainerOptions fp32 = Options("train_amp_fp32");
  fp32.epochs = 1;
  std::vector<double> fp32_losses, bf16_losses;
  TrainerCallbacks cb32;
  cb32.on_step = [&](const StepStats& s) { fp32_losses.push_back(s.loss); };
  ASSERT_OK(Train(fp32, DistributedConfig(), cb32));
  TrainerOptions bf16 = Options("train_amp_bf16");
  bf16.epochs = 1;
  bf16.mixed_precision = clip::Precision::kBf16;
  TrainerCallbacks cb16;
  cb16.on_step = [&](const StepStats& s) { bf16_losses.push_back(s.loss); };
  ASSERT_OK(Train(bf16, DistributedConfig(), cb16));
  ASSERT_EQ(bf16_losses.size(), fp32_losses.size());
  for (size_t i = 0; i < bf16_losses.size(); ++i) {
    EXPECT_TRUE(std::isfinite(bf16_losses[i]));
    EXPECT_NEAR(bf16_losses[i], fp32_losses[i], 0.05 * fp32_losses[i])
        << "step " << i + 1;
  }
  const std::string name = "transformer.resblocks.1.mlp.c_fc.weight";
  std::vector<float> a =
      Weights(fp32.output_dir + "/model-last.safetensors", name);
  std::vector<float> b =
      Weights(bf16.output_dir + "/model-last.safetensors", name);
  ASSERT_EQ(a.size(), b.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * double(a[i] - b[i]);
    norm += a[i] * double(a[i]);
  }
  EXPECT_GT(diff, 0.0);                     // bf16 products did run
  EXPECT_LT(std::sqrt(diff / norm), 0.05);  // and the update is the same one
  TrainerOptions half = Options("train_amp_fp16");
  half.mixed_precision = clip::Precision::kFp16;
  EXPECT_THAT(Train(half, DistributedConfig()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("fp16")));
}

TEST_F(TrainerTest, BadInputsAreNamed) {
  TrainerOptions o = Options("train_bad");
  o.train_labels = *data_ + "/nope.txt";
  EXPECT_THAT(
      Train(o, DistributedConfig()),
      StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("nope.txt")));
  o = Options("train_bad2");
  o.batch_size = 1000;
  EXPECT_THAT(Train(o, DistributedConfig()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("fewer than one optimiser step")));
}

}  // namespace
}  // namespace trainer
