#include "exporter/export.h"

#include <filesystem>

#include "clip/safetensors.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "eval/attributes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/model_version.h"
#include "rerank/attribute_head.h"
#include "tests/test_model.h"
#include "tests/tiny_dataset.h"

namespace exporter {
namespace {

namespace fs = std::filesystem;
using ::common_testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

class ExportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(::testing::TempDir() + "/export_data");
    fs::remove_all(*root_);
    ASSERT_OK(tests::GenerateTinyDataset(*root_ + "/data", /*train_size=*/8,
                                         /*val_size=*/4, /*test_size=*/40));
    // A tiny model with its tokenizer beside it.
    fs::create_directories(*root_ + "/model");
    ASSERT_OK(tests::WriteTestModel(*root_ + "/model",
                                    {"a white audi", "a pedestrian"},
                                    /*num_merges=*/50, /*seed=*/0));
  }
  ExportOptions Options(const std::string& models) {
    ExportOptions o;
    o.weights = *root_ + "/model/model.safetensors";
    o.images = *root_ + "/data/test/images";
    o.labels = *root_ + "/data/test/test_label.txt";
    o.models_dir = *root_ + "/" + models;
    fs::remove_all(o.models_dir);
    o.batch_size = 8;
    return o;
  }
  static std::string* root_;
};

std::string* ExportTest::root_ = nullptr;

TEST_F(ExportTest, PublishesAVerifiedVersionWithCategoriesAndEmbeddings) {
  ExportOptions o = Options("models_flat");
  auto result = Export(o);
  ASSERT_OK(result);
  EXPECT_EQ(result->version, 1);
  EXPECT_EQ(result->num_images, 40);
  EXPECT_GT(result->images_per_second, 0);
  auto loaded = gallery::LoadVersion(o.models_dir, 1);
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->index->size(), 40);
  EXPECT_EQ(loaded->manifest.embedding_dim, 64);
  EXPECT_EQ(loaded->manifest.num_pedestrian_images +
                loaded->manifest.num_vehicle_images,
            40);
  EXPECT_GT(loaded->manifest.num_vehicle_images, 0);
  EXPECT_EQ(loaded->manifest.image_resolution, 32);
  // The raw embeddings are stored in index row order, L2-normalised, and
  // equal to what the index holds.
  auto emb =
      clip::SafetensorsFile::Read(loaded->dir + "/embeddings.safetensors");
  ASSERT_OK(emb);
  auto values = emb->GetF32("embeddings");
  ASSERT_OK(values);
  ASSERT_EQ(values->size(), 40u * 64);
  auto stored = loaded->index->Reconstruct({0, 39});
  ASSERT_OK(stored);
  for (int j = 0; j < 64; ++j) {
    EXPECT_FLOAT_EQ((*stored)[j], (*values)[j]);
    EXPECT_FLOAT_EQ((*stored)[64 + j], (*values)[39 * 64 + j]);
  }
  // Nothing but the version is left in models_dir.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(o.models_dir)) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "1");
  }
  EXPECT_EQ(entries, 1);
  // A second export becomes version 2.
  auto again = Export(o);
  ASSERT_OK(again);
  EXPECT_EQ(again->version, 2);
}

TEST_F(ExportTest, ApproximateIndexRecordsRecall) {
  ExportOptions o = Options("models_ivf");
  o.index_factory = "IVF4,Flat";
  o.nprobe = 4;
  o.recall_queries = 20;
  auto result = Export(o);
  ASSERT_OK(result);
  EXPECT_DOUBLE_EQ(result->recall_at_10, 1.0);  // all 4 lists probed: exact
  auto loaded = gallery::LoadVersion(o.models_dir, 1);
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->manifest.index_type, "IVF4,Flat");
  EXPECT_EQ(loaded->manifest.index_params.at("nprobe"), "4");
  EXPECT_DOUBLE_EQ(loaded->manifest.recall_at_10, 1.0);
  EXPECT_EQ(loaded->manifest.recall_queries, 20);
}

TEST_F(ExportTest, UnreadableImageFailsOrIsSkippedAndNoVersionIsLeft) {
  const std::string list = *root_ + "/list.txt";
  ASSERT_OK(common::WriteFileAtomically(
      list, *root_ + "/data/test/images/" +
                fs::directory_iterator(*root_ + "/data/test/images")
                    ->path()
                    .filename()
                    .string() +
                "\n" + *root_ + "/missing.jpg\n"));
  ExportOptions o = Options("models_bad");
  o.images = list;
  o.min_label_coverage = 0;  // missing.jpg has no label either
  EXPECT_THAT(Export(o),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.jpg")));
  EXPECT_FALSE(fs::exists(o.models_dir + "/1"));
  o.skip_bad_images = true;
  auto result = Export(o);
  ASSERT_OK(result);
  EXPECT_EQ(result->num_images, 1);
  EXPECT_EQ(result->skipped_images, 1);
}

TEST_F(ExportTest, TwoImagesWithOneFileNameAreRefused) {
  const std::string other = *root_ + "/other";
  fs::create_directories(other);
  const std::string first =
      fs::directory_iterator(*root_ + "/data/test/images")->path().string();
  const std::string name = fs::path(first).filename().string();
  fs::copy_file(first, other + "/" + name,
                fs::copy_options::overwrite_existing);
  const std::string list = *root_ + "/dup_list.txt";
  ASSERT_OK(common::WriteFileAtomically(
      list, first + "\n" + other + "/" + name + "\n"));
  ExportOptions o = Options("models_dup");
  o.images = list;
  EXPECT_THAT(Export(o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("share the file name " + name),
                             HasSubstr(other + "/" + name))));
  EXPECT_FALSE(fs::exists(o.models_dir + "/1"));
}

// A label file about other images leaves every gallery image without a
// category; the export refuses it unless the threshold is lowered.
TEST_F(ExportTest, LabelFileThatMissesTheGalleryIsRefused) {
  const std::string labels = *root_ + "/other_labels.txt";
  ASSERT_OK(common::WriteFileAtomically(
      labels, "not_in_gallery.jpg$white Audi.$This is a white Audi.\n"));
  ExportOptions o = Options("models_uncovered");
  o.labels = labels;
  int64_t encoded = 0;
  EXPECT_THAT(Export(o, [&](int64_t done, int64_t) { encoded = done; }),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(labels), HasSubstr("0 of 40"),
                             HasSubstr("min_label_coverage"))));
  EXPECT_EQ(encoded, 0);  // refused before encoding
  EXPECT_FALSE(fs::exists(o.models_dir + "/1"));

  o.min_label_coverage = 0;  // check disabled
  auto result = Export(o);
  ASSERT_OK(result);
  EXPECT_EQ(result->labelled_images, 0);
  EXPECT_DOUBLE_EQ(result->label_coverage, 0.0);
  auto loaded = gallery::LoadVersion(o.models_dir, 1);
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->manifest.labels_file, labels);
  EXPECT_DOUBLE_EQ(loaded->manifest.label_coverage, 0.0);
}

TEST_F(ExportTest, CoverageOfACompleteLabelFileIsRecorded) {
  ExportOptions o = Options("models_covered");
  auto result = Export(o);
  ASSERT_OK(result);
  EXPECT_EQ(result->labelled_images, 40);
  EXPECT_DOUBLE_EQ(result->label_coverage, 1.0);
  auto loaded = gallery::LoadVersion(o.models_dir, 1);
  ASSERT_OK(loaded);
  EXPECT_DOUBLE_EQ(loaded->manifest.label_coverage, 1.0);

  o.labels.clear();  // no label file: nothing to cover, nothing recorded
  result = Export(o);
  ASSERT_OK(result);
  EXPECT_LT(result->label_coverage, 0);
  loaded = gallery::LoadVersion(o.models_dir, 2);
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->manifest.labels_file, "");
  EXPECT_LT(loaded->manifest.label_coverage, 0);
}

// An unwritable models directory is found before any image is encoded.
// The test model's weights plus attribute heads (weight[j][d] = 0.1 for
// d == j % dim, else 0) and fitted re-rank weights, as a trainer with
// attribute supervision writes them.
std::string WeightsWithHeads(const std::string& src, const std::string& dst,
                             const std::string& rerank_weights) {
  auto in = clip::SafetensorsFile::Read(src);
  EXPECT_OK(in);
  clip::SafetensorsWriter w;
  for (const std::string& name : in->names()) {
    auto t = in->Get(name);
    EXPECT_OK(w.Add(name, t->dtype, t->shape, t->data));
  }
  for (const auto& [k, v] : in->metadata()) w.SetMetadata(k, v);
  constexpr int64_t kK = eval::AttributeLayout::kSize, kDim = 64;
  std::vector<float> weight(kK * kDim, 0.0f), bias(kK, 0.0f);
  for (int64_t j = 0; j < kK; ++j) weight[j * kDim + j % kDim] = 0.1f;
  auto bytes = [](const std::vector<float>& v) {
    return absl::string_view(reinterpret_cast<const char*>(v.data()),
                             v.size() * sizeof(float));
  };
  for (auto tower : {rerank::Tower::kImage, rerank::Tower::kText}) {
    EXPECT_OK(w.Add(rerank::HeadWeightName(tower), clip::DType::kF32,
                    {kK, kDim}, bytes(weight)));
    EXPECT_OK(w.Add(rerank::HeadBiasName(tower), clip::DType::kF32, {kK},
                    bytes(bias)));
  }
  w.SetMetadata(rerank::kAttributeLayoutKey, eval::AttributeLayoutId());
  if (!rerank_weights.empty()) {
    w.SetMetadata("rerank_weights", rerank_weights);
    w.SetMetadata("rerank_candidates", "50");
    w.SetMetadata("rerank_val_map10_reranked", "0.75");
  }
  EXPECT_OK(w.WriteFile(dst));
  return dst;
}

TEST_F(ExportTest, AttributeHeadsGiveGalleryPredictionsAndRerankWeights) {
  ExportOptions o = Options("models_attributes");
  o.weights = WeightsWithHeads(o.weights, *root_ + "/model/heads.safetensors",
                               "category=0.1,pedestrian=0.02,vehicle=0.5");
  auto result = Export(o);
  ASSERT_OK(result);
  EXPECT_EQ(result->attribute_layout, eval::AttributeLayoutId());
  auto loaded = gallery::LoadVersion(o.models_dir, 1);
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->manifest.attribute_layout, eval::AttributeLayoutId());
  EXPECT_EQ(loaded->manifest.rerank_weights,
            "category=0.1,pedestrian=0.02,vehicle=0.5");
  EXPECT_EQ(loaded->manifest.rerank_candidates, 50);
  EXPECT_DOUBLE_EQ(
      loaded->manifest.training_metrics.at("rerank_val_map10_reranked"), 0.75);
  // The stored predictions are the image head applied to the stored
  // embeddings, row by row.
  auto emb =
      clip::SafetensorsFile::Read(loaded->dir + "/embeddings.safetensors");
  ASSERT_OK(emb);
  auto probs = emb->GetF32(gallery::kAttributeProbsTensor);
  ASSERT_OK(probs);
  auto values = emb->GetF32("embeddings");
  ASSERT_OK(values);
  ASSERT_EQ(probs->size(), 40u * eval::AttributeLayout::kSize);
  auto weights =
      clip::SafetensorsFile::Read(loaded->dir + "/model.safetensors");
  ASSERT_OK(weights);
  auto head = rerank::AttributeHead::Read(*weights, rerank::Tower::kImage);
  ASSERT_OK(head);
  const std::vector<float> expected = head->Predict(values->data(), 40);
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_FLOAT_EQ((*probs)[i], expected[i]) << i;
  }

  // Without the flag, or with heads but no fit, the version says so.
  ExportOptions off = Options("models_attributes_off");
  off.weights = o.weights;
  off.attribute_heads = false;
  ASSERT_OK(Export(off));
  auto plain = gallery::LoadVersion(off.models_dir, 1);
  ASSERT_OK(plain);
  EXPECT_EQ(plain->manifest.attribute_layout, "");
  ExportOptions unfitted = Options("models_attributes_unfitted");
  unfitted.weights =
      WeightsWithHeads(*root_ + "/model/model.safetensors",
                       *root_ + "/model/heads_unfitted.safetensors", "");
  ASSERT_OK(Export(unfitted));
  auto routed_only = gallery::LoadVersion(unfitted.models_dir, 1);
  ASSERT_OK(routed_only);
  EXPECT_EQ(routed_only->manifest.attribute_layout, eval::AttributeLayoutId());
  EXPECT_EQ(routed_only->manifest.rerank_weights, "");
  EXPECT_EQ(routed_only->manifest.rerank_candidates, 0);
}

TEST_F(ExportTest, BadRerankWeightsInTheWeightsFileAreNamed) {
  ExportOptions o = Options("models_attributes_bad");
  o.weights = WeightsWithHeads(o.weights, *root_ + "/model/bad.safetensors",
                               "category=-1");
  EXPECT_THAT(Export(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("re-rank weights")));
  EXPECT_FALSE(fs::exists(o.models_dir + "/1"));
}

TEST_F(ExportTest, UnwritableModelsDirFailsBeforeEncoding) {
  const std::string file = *root_ + "/a_file";
  ASSERT_OK(common::WriteFileAtomically(file, "x"));
  std::vector<std::string> dirs = {file + "/models"};
  if (fs::is_directory("/proc/self")) dirs.push_back("/proc/self");
  for (const std::string& dir : dirs) {
    ExportOptions o = Options("models_unused");
    o.models_dir = dir;
    int64_t encoded = 0;
    absl::StatusOr<ExportResult> result =
        Export(o, [&](int64_t done, int64_t) { encoded = done; });
    ASSERT_FALSE(result.ok()) << dir;
    EXPECT_THAT(result.status().message(),
                AllOf(HasSubstr(dir), HasSubstr("not writable")));
    EXPECT_EQ(encoded, 0) << dir;
  }
}

}  // namespace
}  // namespace exporter
