// Inference-only CLIP towers whose linear layers run through oneDNN with
// weights packed once at load (clip/onednn_linear.h), in float32 or with
// bfloat16 matrix products.
//
// Numerics (see clip/precision.h):
//  - kFp32: every product in float32; results match ClipModel to float32
//    rounding (a different summation order, not a different method).
//  - kBf16: the inputs of every linear layer and of attention are rounded
//    to bfloat16, weights are stored in bfloat16, products accumulate in
//    float32. LayerNorm, the residual stream, softmax statistics, pooling,
//    the projections and outputs stay float32.
// Per block: LayerNorm -> qkv GEMM -> attention (ATen bmm/softmax) -> output
// GEMM accumulated into the residual in place -> LayerNorm -> fc GEMM with
// QuickGELU fused -> projection GEMM accumulated into the residual.
//
// Includes <torch/torch.h>; only clip/encoder.cc and tests use it.
// Thread safety: Encode* may run concurrently; the object is immutable.
#ifndef CLIP_FAST_MODEL_H_
#define CLIP_FAST_MODEL_H_

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "clip/config.h"
#include "clip/model.h"
#include "clip/precision.h"

namespace clip {

class OneDnnLinear;

class FastClipModel {
 public:
  struct Options {
    Precision precision = Precision::kFp32;  // kFp32 or kBf16
    bool text = true;                        // pack the text tower
    bool vision = true;  // pack the image tower (needs model.visual)
  };

  // Copies what inference needs out of `model` (which may be freed
  // afterwards). UNIMPLEMENTED when oneDNN has no fast kernel for the
  // precision on this CPU; INVALID_ARGUMENT for kAuto/kFp16 or a tower the
  // model lacks.
  static absl::StatusOr<std::unique_ptr<FastClipModel>> Create(
      ClipModelImpl& model, const Options& options);
  ~FastClipModel();

  const ClipConfig& config() const { return config_; }
  Precision precision() const { return precision_; }
  bool has_text() const { return has_text_; }
  bool has_vision() const { return has_vision_; }
  // Bytes of packed weights held (both towers).
  int64_t packed_bytes() const;

  // Same contracts as ClipModelImpl::EncodeText / EncodeImage (CPU tensors):
  // tokens [B, T] int64 -> [B, embed_dim] float32; images [B, 3, R, R]
  // float32 -> [B, embed_dim] float32; unnormalised. Must run under
  // c10::InferenceMode or torch::NoGradGuard.
  torch::Tensor EncodeText(const torch::Tensor& tokens) const;
  torch::Tensor EncodeImage(const torch::Tensor& images) const;

  struct Block;  // one packed residual attention block

 private:
  FastClipModel() = default;
  // x: [B, L, D] float32, contiguous, updated in place.
  void RunTower(const std::vector<Block>& blocks, int64_t heads,
                torch::Tensor& x, const torch::Tensor& mask) const;

  ClipConfig config_;
  Precision precision_ = Precision::kFp32;
  bool has_text_ = false, has_vision_ = false;

  // Text tower.
  std::vector<Block> text_blocks_;
  torch::Tensor token_embedding_, text_positional_, text_projection_;
  torch::Tensor ln_final_w_, ln_final_b_, causal_mask_;
  // Image tower.
  std::vector<Block> vision_blocks_;
  torch::Tensor conv1_w_, class_embedding_, vision_positional_, proj_;
  torch::Tensor ln_pre_w_, ln_pre_b_, ln_post_w_, ln_post_b_;
};

}  // namespace clip

#endif  // CLIP_FAST_MODEL_H_
