#include "clip/fast_model.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "clip/onednn_linear.h"
#include "common/status_macros.h"

namespace clip {

struct FastClipModel::Block {
  torch::Tensor ln1_w, ln1_b, ln2_w, ln2_b;
  std::unique_ptr<OneDnnLinear> qkv, out, fc, proj;
};

namespace {

torch::Tensor Float32(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU, torch::kFloat32).contiguous().clone();
}

absl::StatusOr<std::unique_ptr<OneDnnLinear>> Pack(const torch::Tensor& weight,
                                                   const torch::Tensor& bias,
                                                   GemmType type) {
  torch::Tensor w = Float32(weight);
  torch::Tensor b = bias.defined() ? Float32(bias) : torch::Tensor();
  return OneDnnLinear::Create(w.data_ptr<float>(),
                              b.defined() ? b.data_ptr<float>() : nullptr,
                              w.size(0), w.size(1), type);
}

absl::StatusOr<std::vector<FastClipModel::Block>> PackTower(
    TransformerImpl& tower, GemmType type) {
  std::vector<FastClipModel::Block> blocks;
  for (int64_t i = 0; i < tower.num_layers(); ++i) {
    ResidualAttentionBlock src = tower.block(i);
    FastClipModel::Block b;
    b.ln1_w = Float32(src->ln_1->weight);
    b.ln1_b = Float32(src->ln_1->bias);
    b.ln2_w = Float32(src->ln_2->weight);
    b.ln2_b = Float32(src->ln_2->bias);
    ASSIGN_OR_RETURN(
        b.qkv, Pack(src->attn->in_proj_weight, src->attn->in_proj_bias, type));
    ASSIGN_OR_RETURN(b.out, Pack(src->attn->out_proj->weight,
                                 src->attn->out_proj->bias, type));
    ASSIGN_OR_RETURN(b.fc,
                     Pack(src->mlp->c_fc->weight, src->mlp->c_fc->bias, type));
    ASSIGN_OR_RETURN(
        b.proj, Pack(src->mlp->c_proj->weight, src->mlp->c_proj->bias, type));
    blocks.push_back(std::move(b));
  }
  return blocks;
}

void Check(const absl::Status& status) {
  TORCH_CHECK(status.ok(), status.ToString());
}

int64_t BlockBytes(const std::vector<FastClipModel::Block>& blocks) {
  int64_t total = 0;
  for (const auto& b : blocks) {
    total += b.qkv->packed_bytes() + b.out->packed_bytes() +
             b.fc->packed_bytes() + b.proj->packed_bytes();
  }
  return total;
}

}  // namespace

FastClipModel::~FastClipModel() = default;

absl::StatusOr<std::unique_ptr<FastClipModel>> FastClipModel::Create(
    ClipModelImpl& model, const Options& options) {
  if (options.precision != Precision::kFp32 &&
      options.precision != Precision::kBf16) {
    return absl::InvalidArgumentError(
        absl::StrCat("the oneDNN CPU path runs fp32 or bf16, not ",
                     PrecisionName(options.precision)));
  }
  if (options.vision && !model.visual) {
    return absl::InvalidArgumentError(
        "the model was loaded without its image tower");
  }
  const GemmType type =
      options.precision == Precision::kBf16 ? GemmType::kBf16 : GemmType::kF32;
  const torch::ScalarType act = options.precision == Precision::kBf16
                                    ? torch::kBFloat16
                                    : torch::kFloat32;
  std::unique_ptr<FastClipModel> fast(new FastClipModel());
  fast->config_ = model.config();
  fast->precision_ = options.precision;
  try {
    torch::NoGradGuard no_grad;
    if (options.text) {
      ASSIGN_OR_RETURN(fast->text_blocks_, PackTower(*model.transformer, type));
      fast->token_embedding_ = Float32(model.token_embedding->weight);
      fast->text_positional_ = Float32(model.positional_embedding);
      fast->text_projection_ = Float32(model.text_projection);
      fast->ln_final_w_ = Float32(model.ln_final->weight);
      fast->ln_final_b_ = Float32(model.ln_final->bias);
      const int64_t ctx = fast->config_.context_length;
      fast->causal_mask_ =
          torch::full({ctx, ctx}, -std::numeric_limits<float>::infinity())
              .triu(1)
              .to(act);
      fast->has_text_ = true;
    }
    if (options.vision) {
      VisionTransformerImpl& v = *model.visual;
      ASSIGN_OR_RETURN(fast->vision_blocks_, PackTower(*v.transformer, type));
      fast->conv1_w_ = Float32(v.conv1->weight);
      fast->class_embedding_ = Float32(v.class_embedding);
      fast->vision_positional_ = Float32(v.positional_embedding);
      fast->proj_ = Float32(v.proj);
      fast->ln_pre_w_ = Float32(v.ln_pre->weight);
      fast->ln_pre_b_ = Float32(v.ln_pre->bias);
      fast->ln_post_w_ = Float32(v.ln_post->weight);
      fast->ln_post_b_ = Float32(v.ln_post->bias);
      fast->has_vision_ = true;
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("packing the model failed: ", e.what_without_backtrace()));
  }
  return fast;
}

int64_t FastClipModel::packed_bytes() const {
  return BlockBytes(text_blocks_) + BlockBytes(vision_blocks_);
}

void FastClipModel::RunTower(const std::vector<Block>& blocks, int64_t heads,
                             torch::Tensor& x,
                             const torch::Tensor& mask) const {
  const int64_t b = x.size(0), l = x.size(1), d = x.size(2);
  const int64_t m = b * l, hd = d / heads;
  const bool bf16 = precision_ == Precision::kBf16;
  const torch::ScalarType act = bf16 ? torch::kBFloat16 : torch::kFloat32;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  torch::Tensor bias;  // additive attention mask, [B*H, L, L]
  if (mask.defined()) bias = mask.expand({b * heads, l, l});
  for (const Block& blk : blocks) {
    // Attention: x += out_proj(attention(ln_1(x))).
    torch::Tensor h = torch::layer_norm(x, {d}, blk.ln1_w, blk.ln1_b, 1e-5);
    if (bf16) h = h.to(torch::kBFloat16);
    torch::Tensor qkv = torch::empty({b, l, 3, heads, hd}, act);
    Check(blk.qkv->Run(h.data_ptr(), m, qkv.data_ptr(), Epilogue::kNone, bf16));
    torch::Tensor t = qkv.permute({2, 0, 3, 1, 4});  // [3, B, H, L, hd]
    torch::Tensor q = t[0].reshape({b * heads, l, hd});
    torch::Tensor k = t[1].reshape({b * heads, l, hd});
    torch::Tensor v = t[2].reshape({b * heads, l, hd});
    torch::Tensor scores = bias.defined()
                               ? torch::baddbmm(bias, q, k.transpose(1, 2),
                                                /*beta=*/1.0, /*alpha=*/scale)
                               : torch::bmm(q, k.transpose(1, 2)).mul_(scale);
    torch::Tensor attn =
        torch::bmm(torch::softmax(scores, -1), v);  // [B*H, L, hd]
    attn = attn.view({b, heads, l, hd})
               .transpose(1, 2)
               .contiguous();  // [B, L, H, hd]
    Check(
        blk.out->Run(attn.data_ptr(), m, x.data_ptr(), Epilogue::kAccumulate));
    // MLP: x += c_proj(quick_gelu(c_fc(ln_2(x)))).
    h = torch::layer_norm(x, {d}, blk.ln2_w, blk.ln2_b, 1e-5);
    if (bf16) h = h.to(torch::kBFloat16);
    torch::Tensor hidden = torch::empty({m, blk.fc->out_features()}, act);
    Check(blk.fc->Run(h.data_ptr(), m, hidden.data_ptr(), Epilogue::kQuickGelu,
                      bf16));
    Check(blk.proj->Run(hidden.data_ptr(), m, x.data_ptr(),
                        Epilogue::kAccumulate));
  }
}

torch::Tensor FastClipModel::EncodeText(const torch::Tensor& tokens) const {
  TORCH_CHECK(has_text_, "this model was loaded without its text tower");
  TORCH_CHECK(tokens.dim() == 2, "tokens must be [B, T], got ", tokens.sizes());
  TORCH_CHECK(tokens.size(1) <= config_.context_length, "tokens have ",
              tokens.size(1), " positions, context length is ",
              config_.context_length);
  torch::Tensor ids = tokens.to(torch::kCPU, torch::kInt64);
  torch::Tensor eot = EotPositions(ids);
  const int64_t len = eot.max().item<int64_t>() + 1;
  torch::Tensor x = torch::embedding(token_embedding_, ids.narrow(1, 0, len)) +
                    text_positional_.narrow(0, 0, len);
  x = x.contiguous();
  RunTower(text_blocks_, config_.transformer_heads, x,
           causal_mask_.narrow(0, 0, len).narrow(1, 0, len));
  torch::Tensor pooled =
      x.index({torch::arange(x.size(0), eot.options()), eot});
  pooled =
      torch::layer_norm(pooled, {x.size(2)}, ln_final_w_, ln_final_b_, 1e-5);
  return torch::matmul(pooled, text_projection_);
}

torch::Tensor FastClipModel::EncodeImage(const torch::Tensor& images) const {
  TORCH_CHECK(has_vision_, "this model was loaded without its image tower");
  TORCH_CHECK(images.dim() == 4, "images must be [B, 3, R, R], got ",
              images.sizes());
  const int64_t patch = config_.vision_patch_size;
  torch::Tensor x =
      torch::conv2d(images.to(torch::kCPU, torch::kFloat32), conv1_w_, {},
                    /*stride=*/patch);  // [B, W, g, g]
  const int64_t b = x.size(0), w = x.size(1);
  x = x.reshape({b, w, -1}).transpose(1, 2);  // [B, g*g, W]
  x = torch::cat({class_embedding_.expand({b, 1, w}), x}, 1) +
      vision_positional_;
  x = torch::layer_norm(x, {w}, ln_pre_w_, ln_pre_b_, 1e-5).contiguous();
  RunTower(vision_blocks_, config_.vision_heads, x, torch::Tensor());
  torch::Tensor cls =
      torch::layer_norm(x.select(1, 0), {w}, ln_post_w_, ln_post_b_, 1e-5);
  return torch::matmul(cls, proj_);
}

}  // namespace clip
