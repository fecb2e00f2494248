#include "clip/model.h"

#include <cmath>
#include <limits>

namespace clip {
namespace {

torch::nn::LayerNorm MakeLayerNorm(int64_t width) {
  return torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({width}).eps(1e-5).elementwise_affine(true));
}

}  // namespace

torch::Tensor QuickGelu(const torch::Tensor& x) {
  return x * torch::sigmoid(1.702 * x);
}

SelfAttentionImpl::SelfAttentionImpl(int64_t width, int64_t heads)
    : heads_(heads) {
  in_proj_weight =
      register_parameter("in_proj_weight", torch::empty({3 * width, width}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
  out_proj = register_module("out_proj", torch::nn::Linear(width, width));
  torch::nn::init::xavier_uniform_(in_proj_weight);
  torch::NoGradGuard no_grad;
  out_proj->bias.zero_();
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x,
                                         const torch::Tensor& mask) {
  const int64_t b = x.size(0), l = x.size(1), d = x.size(2);
  const int64_t hd = d / heads_;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // [B, L, 3D] -> [3, B*H, L, hd]
  torch::Tensor qkv =
      torch::nn::functional::linear(x, in_proj_weight, in_proj_bias)
          .view({b, l, 3, heads_, hd})
          .permute({2, 0, 3, 1, 4})
          .reshape({3, b * heads_, l, hd});
  torch::Tensor q = qkv[0], k = qkv[1], v = qkv[2];
  // scale * q @ k^T (+ mask) in one call.
  torch::Tensor scores = mask.defined()
                             ? torch::baddbmm(mask.expand({b * heads_, l, l}),
                                              q, k.transpose(1, 2),
                                              /*beta=*/1.0, /*alpha=*/scale)
                             : torch::bmm(q, k.transpose(1, 2)) * scale;
  torch::Tensor out =
      torch::bmm(torch::softmax(scores, -1), v);  // [B*H, L, hd]
  out = out.view({b, heads_, l, hd}).transpose(1, 2).reshape({b, l, d});
  return out_proj(out);
}

MlpImpl::MlpImpl(int64_t width) {
  c_fc = register_module("c_fc", torch::nn::Linear(width, 4 * width));
  c_proj = register_module("c_proj", torch::nn::Linear(4 * width, width));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = c_fc(x);
  if (c10::InferenceMode::is_enabled()) {
    // No autograd: activate in place and save a [rows, 4D] temporary.
    h.mul_(torch::sigmoid(h * 1.702));
  } else {
    h = QuickGelu(h);
  }
  return c_proj(h);
}

ResidualAttentionBlockImpl::ResidualAttentionBlockImpl(int64_t width,
                                                       int64_t heads) {
  attn = register_module("attn", SelfAttention(width, heads));
  ln_1 = register_module("ln_1", MakeLayerNorm(width));
  mlp = register_module("mlp", Mlp(width));
  ln_2 = register_module("ln_2", MakeLayerNorm(width));
}

torch::Tensor ResidualAttentionBlockImpl::forward(const torch::Tensor& x,
                                                  const torch::Tensor& mask) {
  torch::Tensor h = x + attn(ln_1(x), mask);
  return h + mlp(ln_2(h));
}

TransformerImpl::TransformerImpl(int64_t width, int64_t layers, int64_t heads) {
  resblocks_ = torch::nn::ModuleList();
  for (int64_t i = 0; i < layers; ++i) {
    blocks_.push_back(ResidualAttentionBlock(width, heads));
    resblocks_->push_back(blocks_.back());
  }
  register_module("resblocks", resblocks_);
}

torch::Tensor TransformerImpl::forward(torch::Tensor x,
                                       const torch::Tensor& mask) {
  for (auto& block : blocks_) x = block(x, mask);
  return x;
}

VisionTransformerImpl::VisionTransformerImpl(const ClipConfig& c) {
  const int64_t w = c.vision_width;
  conv1 = register_module(
      "conv1",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(3, w, c.vision_patch_size)
                            .stride(c.vision_patch_size)
                            .bias(false)));
  const double scale = 1.0 / std::sqrt(static_cast<double>(w));
  class_embedding =
      register_parameter("class_embedding", scale * torch::randn({w}));
  positional_embedding = register_parameter(
      "positional_embedding", scale * torch::randn({c.vision_tokens(), w}));
  ln_pre = register_module("ln_pre", MakeLayerNorm(w));
  transformer = register_module(
      "transformer", Transformer(w, c.vision_layers, c.vision_heads));
  ln_post = register_module("ln_post", MakeLayerNorm(w));
  proj = register_parameter("proj", scale * torch::randn({w, c.embed_dim}));
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& images) {
  // Under autocast the convolution returns bf16/fp16; the residual stream
  // and LayerNorm stay float32 (a no-op otherwise).
  torch::Tensor x = conv1(images).to(torch::kFloat32);  // [B, W, g, g]
  const int64_t b = x.size(0), w = x.size(1);
  x = x.reshape({b, w, -1}).transpose(1, 2);  // [B, g*g, W]
  torch::Tensor cls = class_embedding.to(x.dtype()).expand({b, 1, w});
  x = torch::cat({cls, x}, 1) + positional_embedding.to(x.dtype());
  x = ln_pre(x);
  x = transformer(x, torch::Tensor());
  x = ln_post(x.select(1, 0));
  return torch::matmul(x, proj);
}

ClipModelImpl::ClipModelImpl(const ClipConfig& config, bool with_vision)
    : config_(config) {
  if (with_vision)
    visual = register_module("visual", VisionTransformer(config));
  transformer =
      register_module("transformer", Transformer(config.transformer_width,
                                                 config.transformer_layers,
                                                 config.transformer_heads));
  token_embedding = register_module(
      "token_embedding",
      torch::nn::Embedding(config.vocab_size, config.transformer_width));
  positional_embedding = register_parameter(
      "positional_embedding",
      torch::empty({config.context_length, config.transformer_width}));
  ln_final =
      register_module("ln_final", MakeLayerNorm(config.transformer_width));
  text_projection = register_parameter(
      "text_projection",
      torch::empty({config.transformer_width, config.embed_dim}));
  logit_scale =
      register_parameter("logit_scale", torch::full({}, std::log(1.0 / 0.07)));
  causal_mask_ = register_buffer(
      "causal_mask", torch::full({config.context_length, config.context_length},
                                 -std::numeric_limits<float>::infinity())
                         .triu(1));
  InitializeParameters();
}

void ClipModelImpl::InitializeParameters() {
  torch::NoGradGuard no_grad;
  namespace init = torch::nn::init;
  init::normal_(token_embedding->weight, 0.0, 0.02);
  init::normal_(positional_embedding, 0.0, 0.01);
  const auto& c = config_;
  auto init_tower = [](Transformer& t, int64_t width) {
    const double proj_std =
        std::pow(width, -0.5) * std::pow(2.0 * t->num_layers(), -0.5);
    const double attn_std = std::pow(width, -0.5);
    const double fc_std = std::pow(2.0 * width, -0.5);
    for (int64_t i = 0; i < t->num_layers(); ++i) {
      auto blk = t->block(i);
      init::normal_(blk->attn->in_proj_weight, 0.0, attn_std);
      blk->attn->in_proj_bias.zero_();
      init::normal_(blk->attn->out_proj->weight, 0.0, proj_std);
      blk->attn->out_proj->bias.zero_();
      init::normal_(blk->mlp->c_fc->weight, 0.0, fc_std);
      blk->mlp->c_fc->bias.zero_();
      init::normal_(blk->mlp->c_proj->weight, 0.0, proj_std);
      blk->mlp->c_proj->bias.zero_();
    }
  };
  init_tower(transformer, c.transformer_width);
  if (visual) init_tower(visual->transformer, c.vision_width);
  init::normal_(text_projection, 0.0, std::pow(c.transformer_width, -0.5));
  logit_scale.fill_(std::log(1.0 / 0.07));
}

torch::Tensor EotPositions(const torch::Tensor& tokens) {
  // argmax of (id * T - position) picks the first occurrence of the largest
  // id, whatever the backend's tie-breaking.
  const int64_t t = tokens.size(1);
  torch::Tensor pos = torch::arange(t, tokens.options());
  return torch::argmax(tokens * t - pos, /*dim=*/1);
}

torch::Tensor ClipModelImpl::EncodeImage(const torch::Tensor& images) {
  TORCH_CHECK(visual, "this model was loaded without its image tower");
  return visual(images);
}

torch::Tensor ClipModelImpl::EncodeText(const torch::Tensor& tokens) {
  TORCH_CHECK(tokens.dim() == 2, "tokens must be [B, T], got ", tokens.sizes());
  TORCH_CHECK(tokens.size(1) <= config_.context_length, "tokens have ",
              tokens.size(1), " positions, context length is ",
              config_.context_length);
  torch::Tensor eot = EotPositions(tokens);
  const int64_t len = eot.max().item<int64_t>() + 1;
  torch::Tensor x = token_embedding(tokens.narrow(1, 0, len)) +
                    positional_embedding.narrow(0, 0, len);
  torch::Tensor mask = causal_mask_.narrow(0, 0, len).narrow(1, 0, len);
  x = transformer(x, mask.to(x.dtype()));
  torch::Tensor pooled =
      x.index({torch::arange(x.size(0), eot.options()), eot});  // [B, W]
  return torch::matmul(ln_final(pooled), text_projection);
}

torch::Tensor ClipModelImpl::LogitsPerImage(const torch::Tensor& image_embeds,
                                            const torch::Tensor& text_embeds) {
  torch::Tensor i = image_embeds / image_embeds.norm(2, -1, true);
  torch::Tensor t = text_embeds / text_embeds.norm(2, -1, true);
  return logit_scale.exp() * torch::matmul(i, t.t());
}

}  // namespace clip
