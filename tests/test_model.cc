#include "tests/test_model.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "clip/encoder.h"
#include "clip/model.h"
#include "clip/tokenizer.h"
#include "clip/weights.h"
#include "common/status_macros.h"
#include "tests/gallery_version.h"

namespace tests {

std::string ImageName(int i) { return absl::StrCat("img", i, ".jpg"); }

std::vector<std::string> SampleCaptions(int n) {
  const char* colours[] = {"white", "black",  "red",   "blue",
                           "grey",  "yellow", "green", "brown"};
  const char* brands[] = {"Audi",  "BMW",    "Toyota", "Honda",
                          "Buick", "Nissan", "Ford",   "Kia"};
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      out.push_back(absl::StrCat("This is a ", colours[i % 8], " ",
                                 brands[(i / 8) % 8], " number ", i, "."));
    } else {
      out.push_back(absl::StrCat("A ", i % 3 ? "female" : "male",
                                 " pedestrian in a ", colours[(i / 2) % 8],
                                 " shirt, walking, person ", i, "."));
    }
  }
  return out;
}

TestVersionOptions SampleVersion(int num_images, uint64_t seed) {
  TestVersionOptions o;
  o.texts = SampleCaptions(num_images);
  o.seed = seed;
  return o;
}

absl::StatusOr<clip::ClipConfig> WriteTestModel(
    const std::string& dir, const std::vector<std::string>& texts,
    int num_merges, uint64_t seed) {
  clip::BpeTrainOptions train;
  train.num_merges = num_merges;
  ASSIGN_OR_RETURN(std::unique_ptr<clip::BpeTokenizer> tokenizer,
                   clip::BpeTokenizer::Train(texts, train));
  ASSIGN_OR_RETURN(clip::ClipConfig config, clip::PresetConfig("tiny"));
  config.vocab_size = tokenizer->vocab_size();
  torch::manual_seed(seed);
  clip::ClipModel model(config);
  model->eval();
  RETURN_IF_ERROR(clip::SaveClipModel(model, dir + "/model.safetensors"));
  RETURN_IF_ERROR(tokenizer->SaveOpenAi(dir + "/bpe_vocab.txt.gz"));
  return config;
}

absl::StatusOr<int64_t> PublishTestVersion(const std::string& models_dir,
                                           const TestVersionOptions& options) {
  const int64_t n = static_cast<int64_t>(options.texts.size());
  GalleryVersion version;
  version.categories = options.categories;
  for (int64_t i = 0; i < n; ++i) {
    version.names.push_back(ImageName(static_cast<int>(i)));
    if (options.categories.empty()) {
      version.categories.push_back(i % 2 ? eval::Category::kPedestrian
                                         : eval::Category::kVehicle);
    }
  }
  version.index_factory = options.index_factory;
  version.manifest.model_name = "test";
  version.manifest.embeddings_file = "";
  return PublishGalleryVersion(
      models_dir, version,
      [&](const std::string& dir,
          gallery::Manifest& m) -> absl::StatusOr<std::vector<float>> {
        ASSIGN_OR_RETURN(clip::ClipConfig config,
                         WriteTestModel(dir, options.texts, 200, options.seed));
        m.architecture = config.ToMetadata();
        m.architecture_description = config.Describe();
        m.embedding_dim = config.embed_dim;
        m.image_resolution = config.image_resolution;
        ASSIGN_OR_RETURN(std::unique_ptr<clip::ClipEncoder> encoder,
                         clip::ClipEncoder::Load(dir + "/model.safetensors",
                                                 dir + "/bpe_vocab.txt.gz"));
        return encoder->EncodeTexts(options.texts);
      });
}

}  // namespace tests
