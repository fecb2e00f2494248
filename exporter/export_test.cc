#include "exporter/export.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <vector>

#include "clip/embed_tool.h"
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
  // No index given: picked by gallery size, exact for 40 images.
  EXPECT_TRUE(result->index_chosen);
  EXPECT_EQ(result->index_factory, "Flat");
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

// Writes `lines` to root/<name>, one per line, and returns the path.
std::string WriteList(const std::string& path,
                      const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  EXPECT_OK(common::WriteFileAtomically(path, text));
  return path;
}

// name -> embedding of a published version.
std::map<std::string, std::vector<float>> EmbeddingsByName(
    const gallery::LoadedVersion& v) {
  std::map<std::string, std::vector<float>> out;
  auto file =
      clip::SafetensorsFile::Read(v.dir + "/" + v.manifest.embeddings_file);
  EXPECT_OK(file);
  if (!file.ok()) return out;
  auto values = file->GetF32("embeddings");
  EXPECT_OK(values);
  const int64_t dim = v.index->dim();
  for (int64_t r = 0; r < v.index->size(); ++r) {
    out[v.index->names()[r]] = std::vector<float>(
        values->begin() + r * dim, values->begin() + (r + 1) * dim);
  }
  return out;
}

// Top-10 names and scores of each query over a loaded version.
struct Ranked {
  std::vector<std::vector<std::string>> names;
  std::vector<std::vector<float>> scores;
};
Ranked Rank(const gallery::LoadedVersion& v,
            const std::vector<float>& queries) {
  Ranked out;
  auto hits = v.index->Search(
      queries.data(), static_cast<int64_t>(queries.size()) / v.index->dim(),
      10);
  EXPECT_OK(hits);
  if (!hits.ok()) return out;
  for (const auto& list : *hits) {
    out.names.emplace_back();
    out.scores.emplace_back();
    for (const gallery::Hit& h : list) {
      out.names.back().push_back(v.index->names()[h.row]);
      out.scores.back().push_back(h.score);
    }
  }
  return out;
}

class GalleryChangesTest : public ExportTest {
 protected:
  void SetUp() override {
    auto listed = clip::ListImages(*root_ + "/data/test/images");
    ASSERT_OK(listed);
    paths_ = *listed;
    ASSERT_EQ(paths_.size(), 40u);
  }
  std::vector<std::string> Paths(size_t first, size_t last) const {
    return {paths_.begin() + first, paths_.begin() + last};
  }
  static std::string Name(const std::string& path) {
    return fs::path(path).filename().string();
  }
  std::vector<std::string> paths_;  // the 40 test images, sorted
};

TEST_F(GalleryChangesTest, IncrementalFlatVersionAnswersLikeOneFromScratch) {
  ExportOptions o = Options("models_incremental");
  o.images = WriteList(*root_ + "/first30.txt", Paths(0, 30));
  ASSERT_OK(Export(o));
  // Version 2: version 1 plus 10 new images, less 5 old ones.
  const std::vector<size_t> removed_rows = {3, 7, 11, 20, 25};
  std::vector<std::string> removed_names;
  for (size_t r : removed_rows) removed_names.push_back(Name(paths_[r]));
  ExportOptions inc = o;
  inc.weights = "";
  inc.from_version = 1;
  inc.images = WriteList(*root_ + "/add10.txt", Paths(30, 40));
  inc.remove_list = WriteList(*root_ + "/remove5.txt", removed_names);
  int64_t encoded = 0;
  auto result = Export(inc, [&](int64_t done, int64_t) { encoded = done; });
  ASSERT_OK(result);
  EXPECT_EQ(result->version, 2);
  EXPECT_EQ(encoded, 10);  // only the added images were encoded
  EXPECT_EQ(result->num_images, 35);
  EXPECT_EQ(result->added_images, 10);
  EXPECT_EQ(result->removed_images, 5);
  // The same 35 images exported from scratch.
  std::vector<std::string> same;
  for (size_t i = 0; i < 40; ++i) {
    if (std::find(removed_rows.begin(), removed_rows.end(), i) ==
        removed_rows.end()) {
      same.push_back(paths_[i]);
    }
  }
  ExportOptions scratch = Options("models_scratch");
  scratch.images = WriteList(*root_ + "/same35.txt", same);
  ASSERT_OK(Export(scratch));

  auto v2 = gallery::LoadVersion(o.models_dir, 2);
  ASSERT_OK(v2);
  auto fresh = gallery::LoadVersion(scratch.models_dir, 1);
  ASSERT_OK(fresh);
  EXPECT_EQ(v2->manifest.parent_version, 1);
  EXPECT_EQ(v2->manifest.added_images, 10);
  EXPECT_EQ(v2->manifest.removed_images, 5);
  EXPECT_EQ(v2->manifest.added_from, inc.images);
  EXPECT_EQ(v2->manifest.removed_from, inc.remove_list);
  EXPECT_EQ(v2->manifest.num_images, 35);
  EXPECT_EQ(v2->manifest.weights_sha256, fresh->manifest.weights_sha256);
  EXPECT_EQ(v2->manifest.num_vehicle_images,
            fresh->manifest.num_vehicle_images);
  // Same images, same categories, same embeddings (up to the last bits
  // that another batch composition may change).
  const auto a = EmbeddingsByName(*v2);
  const auto b = EmbeddingsByName(*fresh);
  ASSERT_EQ(a.size(), 35u);
  for (const auto& [name, e] : b) {
    ASSERT_EQ(a.count(name), 1u) << name;
    for (size_t j = 0; j < e.size(); ++j) {
      EXPECT_NEAR(a.at(name)[j], e[j], 1e-5) << name;
    }
  }
  for (int64_t r = 0; r < fresh->index->size(); ++r) {
    const auto& names = v2->index->names();
    const auto it =
        std::find(names.begin(), names.end(), fresh->index->names()[r]);
    ASSERT_NE(it, names.end());
    EXPECT_EQ(v2->index->category(it - names.begin()),
              fresh->index->category(r));
  }
  // Every image as a query: the same ranking.
  std::vector<float> queries;
  for (const auto& [name, e] : b)
    queries.insert(queries.end(), e.begin(), e.end());
  const Ranked ra = Rank(*v2, queries);
  const Ranked rb = Rank(*fresh, queries);
  ASSERT_EQ(ra.names.size(), 35u);
  EXPECT_EQ(ra.names, rb.names);
  for (size_t q = 0; q < ra.scores.size(); ++q) {
    for (size_t k = 0; k < ra.scores[q].size(); ++k) {
      EXPECT_NEAR(ra.scores[q][k], rb.scores[q][k], 1e-5);
    }
  }
  // The removed images are gone.
  for (const std::string& n : removed_names) EXPECT_EQ(a.count(n), 0u) << n;
}

TEST_F(GalleryChangesTest,
       TrainedIndexIsReusedUntilTheAddedSharePassesTheFlag) {
  ExportOptions o = Options("models_incremental_ivf");
  o.images = WriteList(*root_ + "/ivf30.txt", Paths(0, 30));
  o.index_factory = "IVF2,Flat";
  o.nprobe = 1;
  o.recall_queries = 30;
  auto v1 = Export(o);
  ASSERT_OK(v1);
  EXPECT_TRUE(v1->index_trained);
  ExportOptions inc = o;
  inc.weights = "";
  inc.from_version = 1;
  inc.retrain_share = 0.2;  // 6 of the 30 images it was trained on
  inc.images = WriteList(*root_ + "/ivf_add5a.txt", Paths(30, 35));
  auto v2 = Export(inc);
  ASSERT_OK(v2);
  EXPECT_FALSE(v2->index_trained);  // 5 <= 6: v1's training is reused
  auto loaded2 = gallery::LoadVersion(o.models_dir, 2);
  ASSERT_OK(loaded2);
  EXPECT_EQ(loaded2->manifest.index_type, "IVF2,Flat");
  EXPECT_EQ(loaded2->manifest.index_params.at("nprobe"), "1");
  EXPECT_EQ(loaded2->manifest.index_trained_version, 1);
  EXPECT_EQ(loaded2->manifest.index_trained_images, 30);
  EXPECT_EQ(loaded2->manifest.added_since_training, 5);
  // Recall is measured again on the new index and recorded.
  EXPECT_EQ(loaded2->manifest.recall_queries, 30);
  EXPECT_GT(loaded2->manifest.recall_at_10, 0.0);
  EXPECT_LE(loaded2->manifest.recall_at_10, 1.0);
  EXPECT_DOUBLE_EQ(loaded2->manifest.recall_at_10, v2->recall_at_10);
  EXPECT_EQ(loaded2->index->size(), 35);

  // 5 more: 10 added since training passes 6, so it is trained anew.
  inc.from_version = 2;
  inc.images = WriteList(*root_ + "/ivf_add5b.txt", Paths(35, 40));
  auto v3 = Export(inc);
  ASSERT_OK(v3);
  EXPECT_TRUE(v3->index_trained);
  auto loaded3 = gallery::LoadVersion(o.models_dir, 3);
  ASSERT_OK(loaded3);
  EXPECT_EQ(loaded3->manifest.parent_version, 2);
  EXPECT_EQ(loaded3->manifest.index_trained_version, 0);
  EXPECT_EQ(loaded3->manifest.index_trained_images, 40);
  EXPECT_EQ(loaded3->manifest.added_since_training, 0);
  // A removal alone reuses the training and keeps the parent's nprobe.
  ExportOptions removal = inc;
  removal.from_version = 3;
  removal.images = "";
  removal.nprobe = 2;
  removal.remove_list =
      WriteList(*root_ + "/ivf_remove1.txt", {Name(paths_[0])});
  auto v4 = Export(removal);
  ASSERT_OK(v4);
  EXPECT_FALSE(v4->index_trained);
  EXPECT_EQ(v4->num_images, 39);
  EXPECT_EQ(v4->removed_images, 1);
  auto loaded4 = gallery::LoadVersion(o.models_dir, 4);
  ASSERT_OK(loaded4);
  EXPECT_EQ(loaded4->manifest.index_trained_version, 3);
  EXPECT_EQ(loaded4->manifest.index_params.at("nprobe"), "1");
}

TEST_F(GalleryChangesTest, BadChangeListsAreRefusedAndPublishNothing) {
  ExportOptions o = Options("models_incremental_bad");
  o.images = WriteList(*root_ + "/bad_first30.txt", Paths(0, 30));
  ASSERT_OK(Export(o));
  ExportOptions inc = o;
  inc.weights = "";
  inc.from_version = 1;
  inc.images = "";
  inc.remove_list = WriteList(*root_ + "/bad_remove.txt",
                              {Name(paths_[0]), "# comment", "nope.jpg"});
  EXPECT_THAT(Export(inc),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("bad_remove.txt:3"),
                             HasSubstr("'nope.jpg' is not in version 1"))));
  inc.remove_list =
      WriteList(*root_ + "/bad_twice.txt", {Name(paths_[0]), Name(paths_[0])});
  EXPECT_THAT(Export(inc), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("bad_twice.txt:2")));
  inc.remove_list = "";
  inc.images = WriteList(*root_ + "/bad_again.txt", Paths(29, 31));
  EXPECT_THAT(Export(inc), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("is already in version 1")));
  // Removed and added in one export: replaced.
  inc.remove_list = WriteList(*root_ + "/bad_replace.txt", {Name(paths_[29])});
  auto replaced = Export(inc);
  ASSERT_OK(replaced);
  EXPECT_EQ(replaced->num_images, 31);
  // Other weights than the parent's.
  inc.weights =
      WeightsWithHeads(*root_ + "/model/model.safetensors",
                       *root_ + "/model/other.safetensors", "category=1");
  EXPECT_THAT(Export(inc),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is not the weights of version")));
  inc.weights = "";
  inc.from_version = 9;
  EXPECT_THAT(Export(inc),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("9")));
  auto versions = gallery::ListVersions(o.models_dir);
  ASSERT_OK(versions);
  EXPECT_EQ(*versions, (std::vector<int64_t>{1, 2}));
}

TEST(ShardRowsTest, ShardsAreWholeBatchesCoveringTheListOnce) {
  using Rows = std::pair<int64_t, int64_t>;
  EXPECT_EQ(ShardRows(40, 8, 2, 0), Rows(0, 24));
  EXPECT_EQ(ShardRows(40, 8, 2, 1), Rows(24, 40));
  for (int64_t n : {1, 7, 8, 9, 100, 1001}) {
    for (int k : {1, 2, 3, 8}) {
      int64_t next = 0;
      for (int i = 0; i < k; ++i) {
        const auto [first, last] = ShardRows(n, 8, k, i);
        EXPECT_EQ(first, next) << n << " " << k << " " << i;
        EXPECT_LE(first, last);
        if (last < n) {
          EXPECT_EQ(last % 8, 0);
        }
        next = last;
      }
      EXPECT_EQ(next, n) << n << " " << k;
    }
  }
  EXPECT_EQ(ShardFileName(1, 4, "txt"), "shard-00001-of-00004.txt");
}

TEST_F(GalleryChangesTest, TwoShardsMergeIntoTheVersionOneProcessExports) {
  const std::string shards = *root_ + "/shards";
  fs::remove_all(shards);
  ExportOptions o = Options("models_merged");
  o.num_shards = 2;
  o.shard_dir = shards;
  for (int i : {0, 1}) {
    o.shard_index = i;
    auto r = Export(o);
    ASSERT_OK(r);
    EXPECT_EQ(r->version, 0);
    EXPECT_EQ(r->num_images, i == 0 ? 24 : 16);
    EXPECT_EQ(r->shard_file, shards + "/" + ShardFileName(i, 2, "safetensors"));
  }
  EXPECT_FALSE(fs::exists(o.models_dir + "/1"));  // nothing published yet
  ExportOptions merge = o;
  merge.num_shards = 0;
  merge.merge_shards = true;
  merge.images = "";
  merge.labels = "";
  auto merged = Export(merge);
  ASSERT_OK(merged);
  EXPECT_EQ(merged->merged_shards, 2);
  EXPECT_EQ(merged->num_images, 40);
  ExportOptions single = Options("models_single");
  ASSERT_OK(Export(single));

  auto a = gallery::LoadVersion(merge.models_dir, 1);
  ASSERT_OK(a);
  auto b = gallery::LoadVersion(single.models_dir, 1);
  ASSERT_OK(b);
  EXPECT_EQ(a->manifest.encoded_shards, 2);
  EXPECT_EQ(a->manifest.labels_file, single.labels);
  EXPECT_DOUBLE_EQ(a->manifest.label_coverage, b->manifest.label_coverage);
  EXPECT_EQ(a->manifest.dataset, b->manifest.dataset);
  EXPECT_EQ(a->index->names(), b->index->names());
  // Bit for bit the same embeddings: every image was encoded in the same
  // batch as in one process.
  auto ea = clip::SafetensorsFile::Read(a->dir + "/embeddings.safetensors");
  auto eb = clip::SafetensorsFile::Read(b->dir + "/embeddings.safetensors");
  ASSERT_OK(ea);
  ASSERT_OK(eb);
  auto va = ea->GetF32("embeddings");
  auto vb = eb->GetF32("embeddings");
  ASSERT_OK(va);
  ASSERT_OK(vb);
  EXPECT_EQ(*va, *vb);
  const Ranked ra = Rank(*a, *vb);
  const Ranked rb = Rank(*b, *vb);
  EXPECT_EQ(ra.names, rb.names);
  EXPECT_EQ(ra.scores, rb.scores);

  // A missing shard, and a shard of another run, are refused.
  fs::rename(shards + "/" + ShardFileName(1, 2, "safetensors"),
             *root_ + "/shard1.moved");
  EXPECT_THAT(Export(merge),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("shard 1 of 2")));
  ExportOptions other = o;
  other.shard_index = 1;
  other.images = WriteList(*root_ + "/other_list.txt", Paths(0, 39));
  other.min_label_coverage = 0;
  ASSERT_OK(Export(other));
  EXPECT_THAT(Export(merge), StatusIs(absl::StatusCode::kFailedPrecondition,
                                      HasSubstr("different runs")));
  auto versions = gallery::ListVersions(merge.models_dir);
  ASSERT_OK(versions);
  EXPECT_EQ(versions->size(), 1u);
}

}  // namespace
}  // namespace exporter
