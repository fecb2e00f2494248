// Reading and writing CLIP checkpoints.
//
// Supported inputs, detected from the file's contents:
//  - safetensors with OpenAI / open_clip key names (float32, float16 or
//    bfloat16 tensors);
//  - safetensors in Hugging Face CLIPModel layout ("text_model.*",
//    "vision_model.*", split q/k/v projections, transposed projections);
//  - TorchScript archives such as OpenAI's released ViT-*.pt (mostly float16
//    weights, with the extra scalar entries input_resolution, context_length
//    and vocab_size, which are ignored).
// Everything is converted to float32 with OpenAI key names.
//
// Head counts cannot be inferred from shapes. They are taken, in order, from
// the safetensors metadata, from a config.json beside the checkpoint
// (OpenAI-style keys or a Hugging Face CLIPConfig), or default to width / 64
// as OpenAI's build_model does.
#ifndef CLIP_WEIGHTS_H_
#define CLIP_WEIGHTS_H_

#include <map>
#include <string>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "clip/config.h"
#include "clip/model.h"

namespace clip {

// Tensors keyed by OpenAI names, plus the file's metadata.
struct Checkpoint {
  std::string source;  // path, for messages
  std::map<std::string, torch::Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Reads any supported format. NOT_FOUND for a missing file; DATA_LOSS for a
// truncated or corrupt file; INVALID_ARGUMENT for an unrecognised layout.
absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path);

// Infers the architecture of a checkpoint (see the header comment for heads).
absl::StatusOr<ClipConfig> CheckpointConfig(const Checkpoint& checkpoint);

// Copies every parameter of `model` from `checkpoint`. INVALID_ARGUMENT names
// the first missing tensor or shape mismatch (with both shapes) and the file.
// Tensors of the checkpoint that the model lacks are an error too, except the
// scalar entries OpenAI's archives carry, the image tower's tensors when the
// model was built without one, and the attribute heads ("attribute_head.*",
// rerank/attribute_head.h).
absl::Status LoadParameters(const Checkpoint& checkpoint, ClipModel& model);

struct ModelLoadOptions {
  // false: build and load only the text tower; the checkpoint's image tower
  // ("visual.*") is read past and not kept.
  bool vision = true;
};

// ReadCheckpoint + CheckpointConfig + LoadParameters. The model is in eval
// mode, float32, on the CPU.
absl::StatusOr<ClipModel> LoadClipModel(const std::string& path,
                                        const ModelLoadOptions& options = {});

// Writes every parameter of `model` as float32 safetensors with OpenAI key
// names; the config goes into __metadata__ (plus `extra_metadata`), so the
// file describes itself. Atomic.
absl::Status SaveClipModel(
    ClipModel& model, const std::string& path,
    const std::map<std::string, std::string>& extra_metadata = {});

}  // namespace clip

#endif  // CLIP_WEIGHTS_H_
