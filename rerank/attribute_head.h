// The attribute heads of a trained model, applied without LibTorch: a linear
// layer over an L2-normalised CLIP embedding that predicts the attribute
// annotation (eval/attributes.h), one head per tower.
//
// The trainer (trainer/attribute_heads.h) learns them jointly with the
// contrastive loss and stores them in model.safetensors beside the CLIP
// weights:
//   attribute_head.image.weight  F32 [AttributeLayout::kSize, embed_dim]
//   attribute_head.image.bias    F32 [AttributeLayout::kSize]
//   attribute_head.text.weight, attribute_head.text.bias  (same shapes)
// with the metadata key "attribute_layout" = eval::AttributeLayoutId().
// The exporter applies the image head to the gallery once and stores the
// probabilities with the embeddings; the server applies the text head to
// each query (a [kSize x D] matrix-vector product, a few microseconds).
//
// Probabilities: a softmax over the category group and over each vehicle
// group, a sigmoid per pedestrian flag.
//
// Thread safety: immutable after construction; Predict may run concurrently.
#ifndef RERANK_ATTRIBUTE_HEAD_H_
#define RERANK_ATTRIBUTE_HEAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clip/safetensors.h"

namespace rerank {

inline constexpr char kAttributeLayoutKey[] = "attribute_layout";

// "image" or "text".
enum class Tower { kImage, kText };
const char* TowerName(Tower tower);

// "attribute_head.<tower>.weight" / ".bias".
std::string HeadWeightName(Tower tower);
std::string HeadBiasName(Tower tower);

// Turns rows of kSize logits into probabilities, in place: `n` rows of
// eval::AttributeLayout::kSize floats.
void LogitsToProbabilities(float* rows, int64_t n);

class AttributeHead {
 public:
  // weight: [kSize, dim] row-major; bias: [kSize]. INVALID_ARGUMENT when the
  // sizes do not fit.
  static absl::StatusOr<AttributeHead> FromWeights(std::vector<float> weight,
                                                   std::vector<float> bias,
                                                   int64_t dim);

  // Whether `file` holds the heads (both towers' tensors).
  static bool PresentIn(const clip::SafetensorsFile& file);

  // Reads one tower's head. NOT_FOUND naming the file when absent;
  // FAILED_PRECONDITION when the file's attribute_layout metadata is not
  // this build's eval::AttributeLayoutId() (heads of another layout);
  // INVALID_ARGUMENT for wrong shapes or dtypes.
  static absl::StatusOr<AttributeHead> Read(const clip::SafetensorsFile& file,
                                            Tower tower);

  int64_t dim() const { return dim_; }

  // Probabilities for `n` embeddings of dim() floats each: [n, kSize].
  std::vector<float> Predict(const float* embeddings, int64_t n) const;

 private:
  AttributeHead(std::vector<float> weight, std::vector<float> bias, int64_t dim)
      : weight_(std::move(weight)), bias_(std::move(bias)), dim_(dim) {}
  std::vector<float> weight_;
  std::vector<float> bias_;
  int64_t dim_ = 0;
};

}  // namespace rerank

#endif  // RERANK_ATTRIBUTE_HEAD_H_
