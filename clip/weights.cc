#include "clip/weights.h"

#include <torch/script.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clip/safetensors.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace clip {
namespace {

// Scalars carried by OpenAI's released TorchScript archives that are not
// parameters (build_model deletes them).
const std::set<std::string>& IgnoredEntries() {
  static const auto* s = new std::set<std::string>{
      "input_resolution", "context_length", "vocab_size"};
  return *s;
}

std::string ShapeString(torch::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

absl::StatusOr<torch::Tensor> ToTensor(const TensorView& v,
                                       const std::string& source) {
  torch::ScalarType type;
  switch (v.dtype) {
    // One dtype a line, laid out by hand.
    // clang-format off
    case DType::kF32: type = torch::kFloat32; break;
    case DType::kF16: type = torch::kFloat16; break;
    case DType::kBF16: type = torch::kBFloat16; break;
    case DType::kF64: type = torch::kFloat64; break;
    case DType::kI64: type = torch::kInt64; break;
    case DType::kI32: type = torch::kInt32; break;
    case DType::kU8: type = torch::kUInt8; break;
    // clang-format on
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", v.name, "' in ", source, " has dtype ",
          DTypeName(v.dtype), ", which a CLIP checkpoint never uses"));
  }
  torch::Tensor t = torch::empty(v.shape, torch::TensorOptions().dtype(type));
  if (!v.data.empty()) std::memcpy(t.data_ptr(), v.data.data(), v.data.size());
  if (t.is_floating_point()) t = t.to(torch::kFloat32);
  return t;
}

bool IsHuggingFace(const std::map<std::string, torch::Tensor>& t) {
  for (const auto& [name, _] : t) {
    if (absl::StartsWith(name, "text_model.") ||
        absl::StartsWith(name, "vision_model.")) {
      return true;
    }
  }
  return false;
}

// Renames Hugging Face CLIPModel tensors to OpenAI's names.
absl::StatusOr<std::map<std::string, torch::Tensor>> FromHuggingFace(
    std::map<std::string, torch::Tensor> hf, const std::string& source) {
  std::map<std::string, torch::Tensor> out;
  auto take = [&](const std::string& name) -> absl::StatusOr<torch::Tensor> {
    auto it = hf.find(name);
    if (it == hf.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Hugging Face checkpoint ", source, " lacks tensor '", name, "'"));
    }
    torch::Tensor t = it->second;
    hf.erase(it);
    return t;
  };
  struct Rename {
    const char* hf;
    const char* openai;
    bool transpose;
  };
  // One renamed tensor a line, laid out by hand.
  // clang-format off
  const Rename kTop[] = {
      {"text_model.embeddings.token_embedding.weight", "token_embedding.weight", false},
      {"text_model.embeddings.position_embedding.weight", "positional_embedding", false},
      {"text_model.final_layer_norm.weight", "ln_final.weight", false},
      {"text_model.final_layer_norm.bias", "ln_final.bias", false},
      {"text_projection.weight", "text_projection", true},
      {"vision_model.embeddings.class_embedding", "visual.class_embedding", false},
      {"vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight", false},
      {"vision_model.embeddings.position_embedding.weight", "visual.positional_embedding", false},
      {"vision_model.pre_layrnorm.weight", "visual.ln_pre.weight", false},
      {"vision_model.pre_layrnorm.bias", "visual.ln_pre.bias", false},
      {"vision_model.post_layernorm.weight", "visual.ln_post.weight", false},
      {"vision_model.post_layernorm.bias", "visual.ln_post.bias", false},
      {"visual_projection.weight", "visual.proj", true},
      {"logit_scale", "logit_scale", false},
  };
  // clang-format on
  for (const Rename& r : kTop) {
    ASSIGN_OR_RETURN(torch::Tensor t, take(r.hf));
    out[r.openai] = r.transpose ? t.t().contiguous() : t;
  }
  const std::pair<const char*, const char*> kTowers[] = {
      {"text_model.encoder.layers.", "transformer.resblocks."},
      {"vision_model.encoder.layers.", "visual.transformer.resblocks."}};
  // Weight and bias of a layer together, laid out by hand.
  // clang-format off
  const std::pair<const char*, const char*> kLayer[] = {
      {"self_attn.out_proj.weight", "attn.out_proj.weight"},
      {"self_attn.out_proj.bias", "attn.out_proj.bias"},
      {"layer_norm1.weight", "ln_1.weight"}, {"layer_norm1.bias", "ln_1.bias"},
      {"mlp.fc1.weight", "mlp.c_fc.weight"}, {"mlp.fc1.bias", "mlp.c_fc.bias"},
      {"mlp.fc2.weight", "mlp.c_proj.weight"}, {"mlp.fc2.bias", "mlp.c_proj.bias"},
      {"layer_norm2.weight", "ln_2.weight"}, {"layer_norm2.bias", "ln_2.bias"}};
  // clang-format on
  for (const auto& [hf_prefix, oa_prefix] : kTowers) {
    for (int i = 0;
         hf.count(absl::StrCat(hf_prefix, i, ".self_attn.q_proj.weight"));
         ++i) {
      const std::string h = absl::StrCat(hf_prefix, i, ".");
      const std::string o = absl::StrCat(oa_prefix, i, ".");
      for (const char* kind : {"weight", "bias"}) {
        ASSIGN_OR_RETURN(torch::Tensor q,
                         take(absl::StrCat(h, "self_attn.q_proj.", kind)));
        ASSIGN_OR_RETURN(torch::Tensor k,
                         take(absl::StrCat(h, "self_attn.k_proj.", kind)));
        ASSIGN_OR_RETURN(torch::Tensor v,
                         take(absl::StrCat(h, "self_attn.v_proj.", kind)));
        out[absl::StrCat(o, "attn.in_proj_", kind)] = torch::cat({q, k, v}, 0);
      }
      for (const auto& [hs, os] : kLayer) {
        ASSIGN_OR_RETURN(torch::Tensor t, take(h + hs));
        out[o + os] = t;
      }
    }
  }
  // Older checkpoints carry non-persistent position_ids buffers.
  hf.erase("text_model.embeddings.position_ids");
  hf.erase("vision_model.embeddings.position_ids");
  if (!hf.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Hugging Face checkpoint ", source,
                     " has tensors with no CLIP counterpart, e.g. '",
                     hf.begin()->first, "'"));
  }
  return out;
}

absl::StatusOr<Checkpoint> ReadTorchScript(const std::string& path) {
  Checkpoint ckpt;
  ckpt.source = path;
  try {
    torch::jit::Module module = torch::jit::load(path, torch::kCPU);
    for (const auto& p : module.named_parameters(/*recurse=*/true)) {
      ckpt.tensors[p.name] = p.value.detach().to(torch::kFloat32).clone();
    }
    for (const auto& b : module.named_buffers(/*recurse=*/true)) {
      if (b.value.is_floating_point()) {
        ckpt.tensors[b.name] = b.value.detach().to(torch::kFloat32).clone();
      } else {
        ckpt.tensors[b.name] = b.value.detach().clone();
      }
    }
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat("cannot load TorchScript archive ",
                                            path, ": ",
                                            e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::DataLossError(
        absl::StrCat("cannot load TorchScript archive ", path, ": ", e.what()));
  }
  if (ckpt.tensors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TorchScript archive ", path, " holds no tensors"));
  }
  return ckpt;
}

// Reads head counts from a config.json beside the checkpoint, if any.
void MergeConfigJson(const std::string& checkpoint_path,
                     std::map<std::string, std::string>& metadata) {
  std::filesystem::path json_path =
      std::filesystem::path(checkpoint_path).parent_path() / "config.json";
  auto text = common::ReadFile(json_path.string());
  if (!text.ok()) return;
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return;
  auto put = [&](const char* key, const nlohmann::json& v) {
    if (v.is_number_integer() && !metadata.count(key)) {
      metadata[key] = std::to_string(v.get<int64_t>());
    }
  };
  for (const char* key : {"vision_heads", "transformer_heads"}) {
    if (j.contains(key)) put(key, j[key]);
  }
  if (j.contains("text_config") && j["text_config"].is_object() &&
      j["text_config"].contains("num_attention_heads")) {
    put("transformer_heads", j["text_config"]["num_attention_heads"]);
  }
  if (j.contains("vision_config") && j["vision_config"].is_object() &&
      j["vision_config"].contains("num_attention_heads")) {
    put("vision_heads", j["vision_config"]["num_attention_heads"]);
  }
}

}  // namespace

absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(path));
  Checkpoint ckpt;
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "PK\x03\x04", 4) == 0) {
    bytes.clear();
    ASSIGN_OR_RETURN(ckpt, ReadTorchScript(path));
  } else {
    ASSIGN_OR_RETURN(SafetensorsFile file,
                     SafetensorsFile::Parse(std::move(bytes), path));
    ckpt.source = path;
    ckpt.metadata = file.metadata();
    for (const std::string& name : file.names()) {
      ASSIGN_OR_RETURN(TensorView view, file.Get(name));
      ASSIGN_OR_RETURN(ckpt.tensors[name], ToTensor(view, path));
    }
    if (IsHuggingFace(ckpt.tensors)) {
      ASSIGN_OR_RETURN(ckpt.tensors,
                       FromHuggingFace(std::move(ckpt.tensors), path));
    }
  }
  MergeConfigJson(path, ckpt.metadata);
  return ckpt;
}

absl::StatusOr<ClipConfig> CheckpointConfig(const Checkpoint& checkpoint) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [name, t] : checkpoint.tensors) {
    shapes[name] = t.sizes().vec();
  }
  auto config = InferConfig(shapes, checkpoint.metadata);
  if (!config.ok()) {
    return absl::Status(
        config.status().code(),
        absl::StrCat(checkpoint.source, ": ", config.status().message()));
  }
  return config;
}

absl::Status LoadParameters(const Checkpoint& checkpoint, ClipModel& model) {
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& p : model->named_parameters(/*recurse=*/true)) {
    auto it = checkpoint.tensors.find(p.key());
    if (it == checkpoint.tensors.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", checkpoint.source, " lacks tensor '", p.key(),
          "' (shape ", ShapeString(p.value().sizes()), ")"));
    }
    if (it->second.sizes() != p.value().sizes()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", p.key(), "' in ", checkpoint.source,
                       " has shape ", ShapeString(it->second.sizes()),
                       ", the model expects ", ShapeString(p.value().sizes())));
    }
    p.value().copy_(it->second);
    used.insert(p.key());
  }
  for (const auto& [name, _] : checkpoint.tensors) {
    const bool unused_tower =
        !model->visual && absl::StartsWith(name, "visual.");
    // The attribute heads stored beside CLIP (rerank/attribute_head.h) are
    // read by their own loader.
    const bool attribute_head = absl::StartsWith(name, "attribute_head.");
    if (!used.count(name) && !IgnoredEntries().count(name) && !unused_tower &&
        !attribute_head && name != "causal_mask" && name != "attn_mask") {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint ", checkpoint.source, " has tensor '", name,
                       "', which this CLIP model does not use"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ClipModel> LoadClipModel(const std::string& path,
                                        const ModelLoadOptions& options) {
  ASSIGN_OR_RETURN(Checkpoint ckpt, ReadCheckpoint(path));
  ASSIGN_OR_RETURN(ClipConfig config, CheckpointConfig(ckpt));
  if (!options.vision) {
    // Free the image tower's tensors before the model is built.
    for (auto it = ckpt.tensors.begin(); it != ckpt.tensors.end();) {
      it = absl::StartsWith(it->first, "visual.") ? ckpt.tensors.erase(it)
                                                  : std::next(it);
    }
  }
  ClipModel model(config, options.vision);
  RETURN_IF_ERROR(LoadParameters(ckpt, model));
  model->eval();
  return model;
}

absl::Status SaveClipModel(
    ClipModel& model, const std::string& path,
    const std::map<std::string, std::string>& extra_metadata) {
  SafetensorsWriter writer;
  for (const auto& p : model->named_parameters(/*recurse=*/true)) {
    torch::Tensor t =
        p.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
    RETURN_IF_ERROR(
        writer.Add(p.key(), DType::kF32, t.sizes().vec(),
                   absl::string_view(static_cast<const char*>(t.data_ptr()),
                                     static_cast<size_t>(t.numel()) * 4)));
  }
  writer.SetMetadata("format", "pt");
  for (const auto& [k, v] : model->config().ToMetadata())
    writer.SetMetadata(k, v);
  for (const auto& [k, v] : extra_metadata) writer.SetMetadata(k, v);
  return writer.WriteFile(path);
}

}  // namespace clip
