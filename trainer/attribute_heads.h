// Attribute supervision for CLIP training: a linear head per tower on the
// L2-normalised embedding that predicts the label's attribute
// (eval/attributes.h), and its loss.
//
// The heads are registered on the CLIP model as the submodule
// "attribute_head" (parameters attribute_head.image.weight, ...), so
// checkpoints, the parameter broadcast, gradient averaging and
// model.safetensors carry them like any other parameter; inference reads
// them back without LibTorch (rerank/attribute_head.h).
//
// The loss of one tower over a batch, against the targets of each row's
// attribute:
//   cross-entropy of the category (every row)
//   + the sum over the 21 flags of their binary cross-entropy (pedestrian
//     rows)
//   + the cross-entropy of colour, type and brand (vehicle rows)
// each averaged over the rows it applies to.
//
// This header includes <torch/torch.h>: trainer-internal.
#ifndef TRAINER_ATTRIBUTE_HEADS_H_
#define TRAINER_ATTRIBUTE_HEADS_H_

#include <torch/torch.h>

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "eval/attributes.h"
#include "trainer/dataset.h"

namespace trainer {

inline constexpr char kAttributeHeadModule[] = "attribute_head";

class AttributeHeadsImpl : public torch::nn::Module {
 public:
  explicit AttributeHeadsImpl(int64_t embed_dim);
  // Linear layers [embed_dim -> eval::AttributeLayout::kSize].
  torch::nn::Linear image{nullptr}, text{nullptr};
};
TORCH_MODULE(AttributeHeads);

// The targets of every attribute of a dataset, indexed by attribute id.
struct AttributeTargetTable {
  torch::Tensor category;    // [A] int64: class, or -100 (ignored)
  torch::Tensor flags;       // [A, 21] float 0/1
  torch::Tensor pedestrian;  // [A] float: 1 for pedestrian attributes
  std::array<torch::Tensor, eval::kNumVehicleFields> vehicle;  // [A] int64
  // Values outside the vocabularies (mapped to "other").
  eval::AttributeParseStats stats;
};

// Parses every attribute of `dataset`. INVALID_ARGUMENT naming the
// dataset's label file and the attribute when one does not parse.
absl::StatusOr<AttributeTargetTable> BuildTargetTable(
    const PairDataset& dataset, torch::Device device);

// The loss of `logits` [B, kSize] (one tower's head output) for rows whose
// attribute ids are `ids` [B].
torch::Tensor AttributeLoss(const torch::Tensor& logits,
                            const torch::Tensor& ids,
                            const AttributeTargetTable& targets);

}  // namespace trainer

#endif  // TRAINER_ATTRIBUTE_HEADS_H_
