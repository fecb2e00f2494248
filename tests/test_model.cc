#include "tests/test_model.h"

#include <torch/torch.h>

#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "clip/encoder.h"
#include "clip/model.h"
#include "clip/safetensors.h"
#include "clip/tokenizer.h"
#include "clip/weights.h"
#include "common/status_macros.h"
#include "eval/attributes.h"
#include "index/manifest.h"
#include "rerank/attribute_head.h"
#include "tests/gallery_version.h"

namespace tests {
namespace {

using eval::AttributeLayout;

absl::string_view Bytes(const std::vector<float>& v) {
  return absl::string_view(reinterpret_cast<const char*>(v.data()),
                           v.size() * sizeof(float));
}

// Rewrites the weights file `path` with both towers' attribute heads added.
absl::Status AddAttributeHeads(const std::string& path,
                               const clip::ClipEncoder& encoder,
                               const TestAttributes& a) {
  const int64_t dim = encoder.embed_dim();
  constexpr int64_t k = AttributeLayout::kSize;
  std::vector<float> weight(k * dim, 0.0f);
  std::vector<float> bias =
      a.text_bias.empty() ? std::vector<float>(k, 0.0f) : a.text_bias;
  if (static_cast<int64_t>(bias.size()) != k) {
    return absl::InvalidArgumentError("text_bias needs one value per class");
  }
  for (const TestAttributes::Row& r : a.text_rows) {
    if (r.row < 0 || r.row >= k) {
      return absl::InvalidArgumentError(absl::StrCat("text row ", r.row));
    }
    ASSIGN_OR_RETURN(std::vector<float> e, encoder.EncodeTexts({r.text}));
    for (int64_t d = 0; d < dim; ++d) weight[r.row * dim + d] = r.scale * e[d];
  }
  const std::vector<float> zeros_w(k * dim, 0.0f), zeros_b(k, 0.0f);
  ASSIGN_OR_RETURN(const clip::SafetensorsFile file,
                   clip::SafetensorsFile::Read(path));
  clip::SafetensorsWriter w;
  for (const std::string& name : file.names()) {
    ASSIGN_OR_RETURN(const clip::TensorView t, file.Get(name));
    RETURN_IF_ERROR(w.Add(name, t.dtype, t.shape, t.data));
  }
  for (const auto& [key, value] : file.metadata()) w.SetMetadata(key, value);
  using rerank::Tower;
  RETURN_IF_ERROR(w.Add(rerank::HeadWeightName(Tower::kText), clip::DType::kF32,
                        {k, dim}, Bytes(weight)));
  RETURN_IF_ERROR(w.Add(rerank::HeadBiasName(Tower::kText), clip::DType::kF32,
                        {k}, Bytes(bias)));
  RETURN_IF_ERROR(w.Add(rerank::HeadWeightName(Tower::kImage),
                        clip::DType::kF32, {k, dim}, Bytes(zeros_w)));
  RETURN_IF_ERROR(w.Add(rerank::HeadBiasName(Tower::kImage), clip::DType::kF32,
                        {k}, Bytes(zeros_b)));
  const std::string layout = !a.head_layout.empty() ? a.head_layout
                             : !a.layout.empty()    ? a.layout
                                                    : eval::AttributeLayoutId();
  w.SetMetadata(rerank::kAttributeLayoutKey, layout);
  return w.WriteFile(path);
}

}  // namespace

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
  const TestAttributes& attributes = options.attributes;
  const bool heads = !attributes.image_probs.empty();
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
  std::vector<float> embedded;  // gallery embeddings, texts order
  int64_t dim = 0;
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
        dim = config.embed_dim;
        ASSIGN_OR_RETURN(std::unique_ptr<clip::ClipEncoder> encoder,
                         clip::ClipEncoder::Load(dir + "/model.safetensors",
                                                 dir + "/bpe_vocab.txt.gz"));
        ASSIGN_OR_RETURN(embedded, encoder->EncodeTexts(options.texts));
        if (heads) {
          RETURN_IF_ERROR(AddAttributeHeads(dir + "/model.safetensors",
                                            *encoder, attributes));
        }
        return embedded;
      },
      [&](const std::string& dir, const gallery::GalleryIndex& index,
          gallery::Manifest& m) -> absl::Status {
        if (!heads) return absl::OkStatus();
        constexpr int64_t k = AttributeLayout::kSize;
        std::map<std::string, int64_t> text_of;
        for (int64_t i = 0; i < n; ++i) text_of[version.names[i]] = i;
        std::vector<float> embeddings(n * dim);
        std::vector<float> probs = attributes.image_probs;
        const bool one_per_text = static_cast<int64_t>(probs.size()) == n * k;
        for (int64_t r = 0; r < n; ++r) {
          const int64_t i = text_of.at(index.names()[r]);
          std::copy_n(embedded.begin() + i * dim, dim,
                      embeddings.begin() + r * dim);
          if (one_per_text) {
            std::copy_n(attributes.image_probs.begin() + i * k, k,
                        probs.begin() + r * k);
          }
        }
        clip::SafetensorsWriter w;
        RETURN_IF_ERROR(w.Add("embeddings", clip::DType::kF32, {n, dim},
                              Bytes(embeddings)));
        RETURN_IF_ERROR(w.Add(gallery::kAttributeProbsTensor, clip::DType::kF32,
                              {static_cast<int64_t>(probs.size()) / k, k},
                              Bytes(probs)));
        m.embeddings_file = "embeddings.safetensors";
        m.attribute_layout = attributes.layout.empty()
                                 ? eval::AttributeLayoutId()
                                 : attributes.layout;
        m.rerank_weights = attributes.rerank_weights;
        m.rerank_candidates = attributes.rerank_candidates;
        return w.WriteFile(dir + "/" + m.embeddings_file);
      });
}

}  // namespace tests
