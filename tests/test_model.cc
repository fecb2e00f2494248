#include "tests/test_model.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "clip/config.h"
#include "clip/encoder.h"
#include "clip/model.h"
#include "clip/tokenizer.h"
#include "clip/weights.h"
#include "common/status_macros.h"
#include "index/gallery_index.h"
#include "index/model_version.h"

namespace tests {

std::string ImageName(int i) { return absl::StrCat("img", i, ".jpg"); }

std::vector<std::string> SampleCaptions(int n) {
  const char* colours[] = {"white", "black", "red", "blue", "grey", "yellow", "green", "brown"};
  const char* brands[] = {"Audi", "BMW", "Toyota", "Honda", "Buick", "Nissan", "Ford", "Kia"};
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      out.push_back(absl::StrCat("This is a ", colours[i % 8], " ", brands[(i / 8) % 8],
                                 " number ", i, "."));
    } else {
      out.push_back(absl::StrCat("A ", i % 3 ? "female" : "male",
                                 " pedestrian in a ", colours[(i / 2) % 8],
                                 " shirt, walking, person ", i, "."));
    }
  }
  return out;
}

absl::StatusOr<int64_t> PublishTestVersion(const std::string& models_dir,
                                           const TestVersionOptions& options) {
  const int64_t n = static_cast<int64_t>(options.texts.size());
  clip::BpeTrainOptions train;
  train.num_merges = 200;
  ASSIGN_OR_RETURN(std::unique_ptr<clip::BpeTokenizer> tokenizer,
                   clip::BpeTokenizer::Train(options.texts, train));
  ASSIGN_OR_RETURN(clip::ClipConfig config, clip::PresetConfig("tiny"));
  config.vocab_size = tokenizer->vocab_size();
  torch::manual_seed(options.seed);
  clip::ClipModel model(config);
  model->eval();

  ASSIGN_OR_RETURN(std::unique_ptr<gallery::VersionWriter> writer,
                   gallery::VersionWriter::Begin(models_dir));
  const std::string dir = writer->staging_dir();
  RETURN_IF_ERROR(clip::SaveClipModel(model, dir + "/model.safetensors"));
  RETURN_IF_ERROR(tokenizer->SaveOpenAi(dir + "/bpe_vocab.txt.gz"));
  ASSIGN_OR_RETURN(std::unique_ptr<clip::ClipEncoder> encoder,
                   clip::ClipEncoder::Load(dir + "/model.safetensors",
                                           dir + "/bpe_vocab.txt.gz"));
  ASSIGN_OR_RETURN(std::vector<float> embeddings, encoder->EncodeTexts(options.texts));
  std::vector<std::string> names;
  std::vector<eval::Category> categories = options.categories;
  for (int64_t i = 0; i < n; ++i) {
    names.push_back(ImageName(static_cast<int>(i)));
    if (options.categories.empty()) {
      categories.push_back(i % 2 ? eval::Category::kPedestrian : eval::Category::kVehicle);
    }
  }
  gallery::BuildOptions bopts;
  bopts.factory = options.index_factory;
  ASSIGN_OR_RETURN(auto index, gallery::GalleryIndex::Build(embeddings, config.embed_dim,
                                                            names, categories, bopts));
  RETURN_IF_ERROR(index->Save(dir + "/index.faiss", dir + "/images.txt"));
  gallery::Manifest m;
  m.model_name = "test";
  m.architecture = config.ToMetadata();
  m.architecture_description = config.Describe();
  m.embedding_dim = config.embed_dim;
  m.index_type = options.index_factory;
  m.num_images = n;
  m.num_pedestrian_images = index->CountOf(eval::Category::kPedestrian);
  m.num_vehicle_images = index->CountOf(eval::Category::kVehicle);
  m.image_resolution = config.image_resolution;
  m.embeddings_file = "";
  return writer->Publish(m);
}

}  // namespace tests
