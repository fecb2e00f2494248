#include "index/model_version.h"

#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/gallery_version.h"

namespace gallery {
namespace {

namespace fs = std::filesystem;
using ::common_testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kDim = 8;

std::string FreshDir(const std::string& name) {
  std::string d = ::testing::TempDir() + "/" + name;
  fs::remove_all(d);
  return d;
}

// Publishes a small version: `n` random embeddings and stand-in weights.
absl::StatusOr<int64_t> PublishVersion(const std::string& models_dir,
                                       int64_t n = 12) {
  tests::GalleryVersion version;
  for (int64_t i = 0; i < n; ++i) {
    version.names.push_back("i" + std::to_string(i) + ".jpg");
    version.categories.push_back(i % 2 ? Category::kVehicle
                                       : Category::kPedestrian);
  }
  version.manifest.model_name = "test";
  version.manifest.architecture = {{"embed_dim", std::to_string(kDim)}};
  version.manifest.embedding_dim = kDim;
  version.manifest.image_resolution = 32;
  return tests::PublishGalleryVersion(
      models_dir, version,
      [n](const std::string& dir,
          Manifest&) -> absl::StatusOr<std::vector<float>> {
        std::mt19937 rng(n);
        std::normal_distribution<float> normal;
        std::vector<float> data(n * kDim);
        for (float& v : data) v = normal(rng);
        RETURN_IF_ERROR(common::WriteFileAtomically(dir + "/model.safetensors",
                                                    "weights-bytes"));
        return data;
      });
}

TEST(ModelVersionTest, PublishesIncreasingVersionsAndLoadsThem) {
  const std::string models = FreshDir("mv_publish");
  auto v1 = PublishVersion(models);
  ASSERT_OK(v1);
  auto v2 = PublishVersion(models, 20);
  ASSERT_OK(v2);
  EXPECT_EQ(*v1, 1);
  EXPECT_EQ(*v2, 2);
  // A crashed writer's staging directory and stray files are ignored.
  fs::create_directories(models + "/.tmp-999-0");
  fs::create_directories(models + "/notaversion");
  auto versions = ListVersions(models);
  ASSERT_OK(versions);
  EXPECT_THAT(*versions, ElementsAre(1, 2));
  auto loaded = LoadVersion(models, 2);
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->index->size(), 20);
  EXPECT_EQ(loaded->manifest.weights_sha256.size(), 64u);
  EXPECT_FALSE(loaded->manifest.created_at.empty());
}

TEST(ModelVersionTest, CheckWritableCreatesTheDirectoryAndLeavesNothing) {
  const std::string models = FreshDir("mv_writable") + "/new/models";
  ASSERT_OK(VersionWriter::CheckWritable(models));
  EXPECT_TRUE(fs::is_directory(models));
  EXPECT_TRUE(fs::is_empty(models));
  const std::string file = FreshDir("mv_writable_file");
  ASSERT_OK(common::WriteFileAtomically(file, "x"));
  const absl::Status status = VersionWriter::CheckWritable(file + "/models");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), ::testing::AllOf(HasSubstr(file + "/models"),
                                                 HasSubstr("not writable")));
}

TEST(ModelVersionTest, AbandonedWriterLeavesNoVersion) {
  const std::string models = FreshDir("mv_abandon");
  {
    auto writer = VersionWriter::Begin(models);
    ASSERT_OK(writer);
    ASSERT_OK(
        common::WriteFileAtomically((*writer)->staging_dir() + "/x", "y"));
  }
  auto versions = ListVersions(models);
  ASSERT_OK(versions);
  EXPECT_TRUE(versions->empty());
  EXPECT_TRUE(fs::is_empty(models));
}

TEST(ModelVersionTest, CorruptVersionsAreRejectedNamingTheFile) {
  const std::string models = FreshDir("mv_corrupt");
  ASSERT_OK(PublishVersion(models));
  const std::string dir = models + "/1";

  // Weights changed after publishing.
  ASSERT_OK(
      common::WriteFileAtomically(dir + "/model.safetensors", "tampered"));
  EXPECT_THAT(LoadVersion(models, 1),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr("sha256"),
                                        HasSubstr("model.safetensors"))));
  ASSERT_OK(
      common::WriteFileAtomically(dir + "/model.safetensors", "weights-bytes"));
  ASSERT_OK(LoadVersion(models, 1));

  // Manifest disagrees with the index.
  auto text = common::ReadFile(dir + "/manifest.json");
  ASSERT_OK(text);
  auto m = ManifestFromJson(*text, "m");
  ASSERT_OK(m);
  Manifest wrong_count = *m;
  wrong_count.num_images = 13;
  ASSERT_OK(common::WriteFileAtomically(dir + "/manifest.json",
                                        ManifestToJson(wrong_count)));
  EXPECT_THAT(
      LoadVersion(models, 1),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               ::testing::AllOf(HasSubstr("index.faiss"), HasSubstr("13"))));
  Manifest wrong_dim = *m;
  wrong_dim.embedding_dim = 16;
  wrong_dim.architecture["embed_dim"] = "16";
  ASSERT_OK(common::WriteFileAtomically(dir + "/manifest.json",
                                        ManifestToJson(wrong_dim)));
  EXPECT_THAT(LoadVersion(models, 1),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("embedding size 8")));

  // Missing and malformed manifests.
  ASSERT_OK(
      common::WriteFileAtomically(dir + "/manifest.json", "{\"format\": 1"));
  EXPECT_THAT(LoadVersion(models, 1), StatusIs(absl::StatusCode::kDataLoss,
                                               HasSubstr("manifest.json")));
  fs::remove(dir + "/manifest.json");
  EXPECT_THAT(LoadVersion(models, 1), StatusIs(absl::StatusCode::kNotFound,
                                               HasSubstr("manifest.json")));
}

TEST(ModelVersionTest, FileNamesThatLeaveTheVersionDirectoryAreRefused) {
  const std::string models = FreshDir("mv_escape");
  ASSERT_OK(PublishVersion(models));
  ASSERT_OK(PublishVersion(models));
  const std::string dir = models + "/2";
  auto text = common::ReadFile(dir + "/manifest.json");
  ASSERT_OK(text);
  auto m = ManifestFromJson(*text, "m");
  ASSERT_OK(m);

  // Another version's weights (same bytes, so the sha256 matches), an
  // absolute path, and every other file field.
  const std::vector<std::pair<std::string, std::function<void(Manifest&)>>>
      cases = {
          {"weights",
           [](Manifest& x) { x.weights_file = "../1/model.safetensors"; }},
          {"weights",
           [&](Manifest& x) {
             x.weights_file =
                 fs::absolute(models + "/1/model.safetensors").string();
           }},
          {"index", [](Manifest& x) { x.index_file = "../1/index.faiss"; }},
          {"images",
           [](Manifest& x) { x.images_file = "sub/../../1/images.txt"; }},
          {"embeddings",
           [](Manifest& x) { x.embeddings_file = "/etc/passwd"; }},
          {"tokenizer", [](Manifest& x) { x.tokenizer_file = ".."; }},
          {"weights", [](Manifest& x) { x.weights_file = ""; }},
      };
  for (const auto& [field, edit] : cases) {
    Manifest bad = *m;
    edit(bad);
    ASSERT_OK(common::WriteFileAtomically(dir + "/manifest.json",
                                          ManifestToJson(bad)));
    EXPECT_THAT(LoadVersion(models, 2),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         ::testing::AllOf(HasSubstr("manifest.json"),
                                          HasSubstr("files." + field))))
        << field;
  }
  // Names inside the directory still load.
  ASSERT_OK(
      common::WriteFileAtomically(dir + "/manifest.json", ManifestToJson(*m)));
  ASSERT_OK(LoadVersion(models, 2));

  // A file of the version that is a symbolic link out of it.
  fs::remove(dir + "/model.safetensors");
  fs::create_symlink(fs::absolute(models + "/1/model.safetensors"),
                     dir + "/model.safetensors");
  EXPECT_THAT(LoadVersion(models, 2),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr("manifest.json"),
                                        HasSubstr("files.weights"),
                                        HasSubstr("outside"))));
}

TEST(ModelVersionTest, ManifestJsonRoundTrip) {
  Manifest m;
  m.model_name = "traffic";
  m.architecture = {{"embed_dim", "512"}, {"vision_width", "768"}};
  m.embedding_dim = 512;
  m.index_type = "IVF1024,PQ64";
  m.index_params = {{"nprobe", "32"}};
  m.recall_at_10 = 0.93;
  m.recall_queries = 1000;
  m.num_images = 17611;
  m.training_metrics = {{"val_map10", 0.91}};
  m.weights_sha256 = "ab";
  m.image_resolution = 224;
  auto back = ManifestFromJson(ManifestToJson(m), "x");
  ASSERT_OK(back);
  EXPECT_EQ(back->index_type, "IVF1024,PQ64");
  EXPECT_EQ(back->index_params.at("nprobe"), "32");
  EXPECT_DOUBLE_EQ(back->recall_at_10, 0.93);
  EXPECT_DOUBLE_EQ(back->training_metrics.at("val_map10"), 0.91);
  EXPECT_EQ(back->architecture, m.architecture);
  EXPECT_EQ(back->labels_file, "");
  EXPECT_LT(back->label_coverage, 0);
  m.labels_file = "/data/test/test_label.txt";
  m.label_coverage = 0.75;
  back = ManifestFromJson(ManifestToJson(m), "x");
  ASSERT_OK(back);
  EXPECT_EQ(back->labels_file, "/data/test/test_label.txt");
  EXPECT_DOUBLE_EQ(back->label_coverage, 0.75);
  EXPECT_EQ(back->attribute_layout, "");
  EXPECT_EQ(back->rerank_candidates, 0);
  m.attribute_layout = "category2,flags21";
  m.rerank_weights = "category=0.1,pedestrian=0.05,vehicle=0.2";
  m.rerank_candidates = 100;
  back = ManifestFromJson(ManifestToJson(m), "x");
  ASSERT_OK(back);
  EXPECT_EQ(back->attribute_layout, "category2,flags21");
  EXPECT_EQ(back->rerank_weights, m.rerank_weights);
  EXPECT_EQ(back->rerank_candidates, 100);
  EXPECT_THAT(
      ManifestFromJson("{\"format\": \"other/9\"}", "f.json"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("f.json")));
}

TEST(ManifestTest, IntegerFieldsMustBeInt64Integers) {
  Manifest m;
  m.embedding_dim = 512;
  m.num_images = 17611;
  m.image_resolution = 224;
  const std::string json = ManifestToJson(m);
  ASSERT_OK(ManifestFromJson(json, "m.json"));
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{
           {"\"embedding_dim\": 512", "\"embedding_dim\": 1e300"},
           {"\"embedding_dim\": 512", "\"embedding_dim\": 512.5"},
           {"\"num_images\": 17611", "\"num_images\": 18446744073709551615"},
           {"\"image_resolution\": 224", "\"image_resolution\": \"224\""}}) {
    std::string bad = json;
    const size_t at = bad.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    bad.replace(at, from.size(), to);
    const std::string field = from.substr(1, from.find('"', 1) - 1);
    EXPECT_THAT(ManifestFromJson(bad, "m.json"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("m.json"), HasSubstr(field))))
        << to;
  }
}

}  // namespace
}  // namespace gallery
