// CLIP hyperparameters, named presets, and inference of the architecture from
// the shapes of a checkpoint's tensors. No LibTorch here: the server, the
// exporter and the manifest code read configs without linking torch.
#ifndef CLIP_CONFIG_H_
#define CLIP_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clip {

// The arguments of OpenAI's CLIP(...) constructor (ViT image tower only).
struct ClipConfig {
  int64_t embed_dim = 512;
  // Image tower.
  int64_t image_resolution = 224;
  int64_t vision_layers = 12;
  int64_t vision_width = 768;
  int64_t vision_patch_size = 16;
  int64_t vision_heads = 12;  // OpenAI: vision_width / 64
  // Text tower.
  int64_t context_length = 77;
  int64_t vocab_size = 49408;
  int64_t transformer_width = 512;
  int64_t transformer_heads = 8;  // OpenAI: transformer_width / 64
  int64_t transformer_layers = 12;

  int64_t grid_size() const { return image_resolution / vision_patch_size; }
  // Number of vision tokens including the class token.
  int64_t vision_tokens() const { return grid_size() * grid_size() + 1; }

  // INVALID_ARGUMENT when a size is not positive, a width is not divisible by
  // its head count, or the resolution is not a multiple of the patch size.
  absl::Status Validate() const;

  // "vit:w768/l12/h12/p16/r224;text:w512/l12/h8/ctx77/v49408;embed512".
  std::string Describe() const;

  // Key/value form used in safetensors __metadata__ and manifests (the
  // constructor argument names, values as decimal strings).
  std::map<std::string, std::string> ToMetadata() const;

  bool operator==(const ClipConfig& o) const;
};

// Named presets: "ViT-B-32", "ViT-B-16", "ViT-L-14", "ViT-L-14-336", and the
// small ones used by tests and the CPU demo: "tiny" (the parity fixture's
// shape), "small" (64 px images, 4-layer towers) and "demo" (48 px images,
// width-128 towers). NOT_FOUND lists the names.
absl::StatusOr<ClipConfig> PresetConfig(absl::string_view name);
std::vector<std::string> PresetNames();

// Infers the configuration from tensor shapes (OpenAI key names), the way
// OpenAI's build_model does: widths, layer counts, patch size, resolution,
// context length, vocabulary and embedding size all follow from shapes. Head
// counts cannot be read from shapes; they come from `metadata` when it holds
// "vision_heads"/"transformer_heads" and default to width / 64 otherwise.
// INVALID_ARGUMENT naming the tensor when a required one is missing or has an
// unexpected rank.
absl::StatusOr<ClipConfig> InferConfig(
    const std::map<std::string, std::vector<int64_t>>& shapes,
    const std::map<std::string, std::string>& metadata);

// Parses a key/value form written by ToMetadata (extra keys are ignored).
// Missing keys keep the values of `base`.
absl::StatusOr<ClipConfig> ConfigFromMetadata(
    const std::map<std::string, std::string>& metadata, const ClipConfig& base);

}  // namespace clip

#endif  // CLIP_CONFIG_H_
