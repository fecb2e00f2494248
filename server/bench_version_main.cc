// bench_version: publishes a model version for server benchmarks: a CLIP of
// a preset architecture with random weights (speed does not depend on the
// values), OpenAI's tokenizer, and a gallery of random unit embeddings.
//
// Usage:
//   bench_version --models_dir=/tmp/bench/models --arch=ViT-B-16
//       --vocab=../shared/data/clip/bpe_simple_vocab_16e6.txt.gz
//       --gallery=17611
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "clip/config.h"
#include "clip/model.h"
#include "clip/tokenizer.h"
#include "clip/weights.h"
#include "common/exit_code.h"
#include "index/gallery_index.h"
#include "index/model_version.h"

ABSL_FLAG(std::string, models_dir, "",
          "Where to publish the version. Required.");
ABSL_FLAG(std::string, arch, "ViT-B-16", "Preset architecture.");
ABSL_FLAG(std::string, vocab, "", "OpenAI BPE vocabulary (.gz). Required.");
ABSL_FLAG(int64_t, gallery, 17611, "Gallery images (random unit vectors).");
ABSL_FLAG(std::string, index, "Flat", "FAISS index_factory string.");

int main(int argc, char** argv) {
  common::ParseFlagsOrExit(
      argc, argv,
      "Publishes a model version with random weights for server benchmarks.\n"
      "  bench_version --models_dir=DIR --arch=ViT-B-16 --vocab=FILE "
      "--gallery=17611");
  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "bench_version: %s\n", s.ToString().c_str());
    return common::kExitFailure;
  };
  auto config = clip::PresetConfig(absl::GetFlag(FLAGS_arch));
  if (!config.ok()) return fail(config.status());
  auto tokenizer = clip::BpeTokenizer::LoadOpenAi(absl::GetFlag(FLAGS_vocab));
  if (!tokenizer.ok()) return fail(tokenizer.status());
  auto writer = gallery::VersionWriter::Begin(absl::GetFlag(FLAGS_models_dir));
  if (!writer.ok()) return fail(writer.status());
  const std::string dir = (*writer)->staging_dir();
  torch::manual_seed(0);
  clip::ClipModel model(*config);
  if (auto s = clip::SaveClipModel(model, dir + "/model.safetensors"); !s.ok())
    return fail(s);
  if (auto s = (*tokenizer)->SaveOpenAi(dir + "/bpe_vocab.txt.gz"); !s.ok())
    return fail(s);
  const int64_t n = absl::GetFlag(FLAGS_gallery), d = config->embed_dim;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> data(n * d);
  std::vector<std::string> names;
  std::vector<gallery::Category> cats;
  for (int64_t i = 0; i < n; ++i) {
    double norm = 0;
    for (int64_t j = 0; j < d; ++j) {
      data[i * d + j] = normal(rng);
      norm += data[i * d + j] * data[i * d + j];
    }
    for (int64_t j = 0; j < d; ++j) data[i * d + j] /= std::sqrt(norm);
    names.push_back(absl::StrCat("img", i, ".jpg"));
    cats.push_back(i % 2 ? gallery::Category::kPedestrian
                         : gallery::Category::kVehicle);
  }
  gallery::BuildOptions bopts;
  bopts.factory = absl::GetFlag(FLAGS_index);
  auto index = gallery::GalleryIndex::Build(data, d, names, cats, bopts);
  if (!index.ok()) return fail(index.status());
  if (auto s = (*index)->Save(dir + "/index.faiss", dir + "/images.txt");
      !s.ok())
    return fail(s);
  gallery::Manifest m;
  m.model_name = "bench";
  m.architecture = config->ToMetadata();
  m.architecture_description = config->Describe();
  m.embedding_dim = d;
  m.index_type = bopts.factory;
  m.num_images = n;
  m.num_pedestrian_images = (*index)->CountOf(gallery::Category::kPedestrian);
  m.num_vehicle_images = (*index)->CountOf(gallery::Category::kVehicle);
  m.image_resolution = config->image_resolution;
  m.embeddings_file = "";
  auto v = (*writer)->Publish(m);
  if (!v.ok()) return fail(v.status());
  std::printf("published version %lld in %s\n", static_cast<long long>(*v),
              absl::GetFlag(FLAGS_models_dir).c_str());
  return common::kExitOk;
}
