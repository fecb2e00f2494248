// OpenAI's CLIP (ViT image tower + causal text transformer) in LibTorch.
//
// Module and parameter names follow the PyTorch state_dict keys of OpenAI's
// clip/model.py ("visual.transformer.resblocks.0.attn.in_proj_weight", ...),
// so checkpoints map one to one. Tensors are batch-first internally; that
// does not change any parameter.
//
// This header includes <torch/torch.h>; code that only encodes should use the
// torch-free facade in clip/encoder.h instead.
//
// Thread safety: forward passes on one model may run concurrently from
// several threads under torch::NoGradGuard / InferenceMode; training is
// single-threaded per model.
#ifndef CLIP_MODEL_H_
#define CLIP_MODEL_H_

#include <torch/torch.h>

#include "clip/config.h"

namespace clip {

// QuickGELU, x * sigmoid(1.702 x), as used by OpenAI's CLIP.
torch::Tensor QuickGelu(const torch::Tensor& x);

// nn.MultiheadAttention's parameters (in_proj_weight rows ordered q, k, v;
// out_proj) applied as self-attention on batch-first input.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t width, int64_t heads);
  // x: [B, L, D] float. mask: [L, L] additive float (or undefined).
  // Returns [B, L, D].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

  torch::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(SelfAttention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(int64_t width);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};
};
TORCH_MODULE(Mlp);

// Pre-LayerNorm residual block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
class ResidualAttentionBlockImpl : public torch::nn::Module {
 public:
  ResidualAttentionBlockImpl(int64_t width, int64_t heads);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

  SelfAttention attn{nullptr};
  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(ResidualAttentionBlock);

class TransformerImpl : public torch::nn::Module {
 public:
  TransformerImpl(int64_t width, int64_t layers, int64_t heads);
  // x: [B, L, D]; mask: [L, L] additive or undefined.
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask);

  int64_t num_layers() const { return static_cast<int64_t>(blocks_.size()); }
  ResidualAttentionBlock block(int64_t i) const { return blocks_[i]; }

 private:
  torch::nn::ModuleList resblocks_{nullptr};
  std::vector<ResidualAttentionBlock> blocks_;
};
TORCH_MODULE(Transformer);

class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(const ClipConfig& config);
  // images: [B, 3, R, R] float32, normalised. Returns [B, embed_dim],
  // unnormalised.
  torch::Tensor forward(const torch::Tensor& images);

  torch::nn::Conv2d conv1{nullptr};
  torch::Tensor class_embedding, positional_embedding, proj;
  torch::nn::LayerNorm ln_pre{nullptr}, ln_post{nullptr};
  Transformer transformer{nullptr};
};
TORCH_MODULE(VisionTransformer);

class ClipModelImpl : public torch::nn::Module {
 public:
  // Without `with_vision` the image tower is not built (visual stays null;
  // EncodeImage fails): a text-only model for serving text queries.
  explicit ClipModelImpl(const ClipConfig& config, bool with_vision = true);

  const ClipConfig& config() const { return config_; }

  // images: [B, 3, R, R] float32 normalised. Returns [B, embed_dim] float32,
  // unnormalised (as OpenAI's encode_image).
  torch::Tensor EncodeImage(const torch::Tensor& images);

  // tokens: [B, T] int64 with T <= context_length, each row SOT ... EOT then
  // zero padding. The pooled position of a row is the first occurrence of its
  // largest id (OpenAI's argmax rule). Only positions up to the largest
  // pooled position of the batch are computed: the causal mask makes the
  // result identical to running all T positions. Returns [B, embed_dim]
  // float32, unnormalised (as OpenAI's encode_text).
  torch::Tensor EncodeText(const torch::Tensor& tokens);

  // exp(logit_scale) * normalize(image) @ normalize(text)^T: [B_img, B_txt].
  torch::Tensor LogitsPerImage(const torch::Tensor& image_embeds,
                               const torch::Tensor& text_embeds);

  // OpenAI's initialize_parameters, for training from scratch.
  void InitializeParameters();

  VisionTransformer visual{nullptr};
  Transformer transformer{nullptr};
  torch::nn::Embedding token_embedding{nullptr};
  torch::Tensor positional_embedding, text_projection, logit_scale;
  torch::nn::LayerNorm ln_final{nullptr};

 private:
  ClipConfig config_;
  torch::Tensor causal_mask_;  // [ctx, ctx], -inf above the diagonal
};
TORCH_MODULE(ClipModel);

// Position of the first largest id in each row: [B] int64.
torch::Tensor EotPositions(const torch::Tensor& tokens);

}  // namespace clip

#endif  // CLIP_MODEL_H_
