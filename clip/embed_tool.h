// The work behind //clip:clip_embed: encode texts and images with a CLIP
// checkpoint and write the inputs and outputs as safetensors.
#ifndef CLIP_EMBED_TOOL_H_
#define CLIP_EMBED_TOOL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clip/image_preprocess.h"
#include "clip/precision.h"

namespace clip {

struct EmbedToolOptions {
  std::string weights;  // any format clip/weights.h reads
  std::string vocab;    // tokenizer (clip/encoder.h LoadTokenizer); "" = beside
                        // the weights
  std::string texts;   // .jsonl of JSON strings or .txt one per line; "" = none
  std::string images;  // a directory (sorted by name) or a .txt list of paths;
                       // "" = none
  std::string output;  // .safetensors
  ResizeMode resize_mode = ResizeMode::kCenterCrop;
  int batch_size = 32;
  Precision precision = Precision::kFp32;  // clip/precision.h
};

// Reads texts: one JSON string per line for .jsonl (INVALID_ARGUMENT with
// file:line for a line that is not a JSON string), else one text per line.
// INVALID_ARGUMENT with file:line for a line that is not valid UTF-8.
absl::StatusOr<std::vector<std::string>> ReadTextsFile(const std::string& path);

// Image paths from a directory (files with an image extension, sorted by
// name) or from a .txt list (one path per line, order kept; relative paths
// are relative to the list's directory).
absl::StatusOr<std::vector<std::string>> ListImages(
    const std::string& dir_or_list);

// Writes text_tokens I64 [m, ctx], text_embeds F32 [m, D], image_input F32
// [n, 3, R, R], image_embeds F32 [n, D] (embeddings unnormalised, as
// OpenAI's encode_text/encode_image) to options.output, atomically. The
// inputs are read before the model is loaded: a texts file without a text,
// or an image list without an image, is INVALID_ARGUMENT naming it.
absl::Status RunEmbedTool(const EmbedToolOptions& options);

// The check RunEmbedTool starts with: INVALID_ARGUMENT when --weights or
// --output is missing, or neither --texts nor --images is given.
absl::Status ValidateEmbedToolOptions(const EmbedToolOptions& options);

}  // namespace clip

#endif  // CLIP_EMBED_TOOL_H_
