// Torch-free facade over a loaded CLIP model, for the server, the exporter
// and the command-line tools: texts and preprocessed images in, L2-normalised
// float32 embeddings out. Including this header does not pull in LibTorch.
//
// Thread safety: Encode* may be called from many threads at once; the model
// is only read (inference mode).
#ifndef CLIP_ENCODER_H_
#define CLIP_ENCODER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "clip/config.h"
#include "clip/precision.h"
#include "clip/tokenizer.h"

namespace clip {

class ClipModel;  // clip/model.h

struct EncoderOptions {
  // Largest number of rows run through the model at once; longer inputs are
  // split. Texts are grouped by token length first, so a chunk holds rows of
  // similar length and computes only up to its longest row.
  int max_batch_size = 64;
  // "cpu", or "cuda" / "cuda:N" on CUDA builds (UNAVAILABLE elsewhere).
  std::string device = "cpu";
  // Inference precision (clip/precision.h). On the CPU, fp32 and bf16 run
  // through the oneDNN path of clip/fast_model.h; on CUDA, bf16 and fp16 run
  // under LibTorch's autocast.
  Precision precision = Precision::kFp32;
  // Towers to load. A text-only encoder (the server's) neither reads the
  // image tower into memory nor can EncodeImages (FAILED_PRECONDITION); an
  // image-only one cannot encode texts.
  bool text_tower = true;
  bool image_tower = true;
};

// Opens the tokenizer at `path`: an OpenAI merges file (*.gz) or a Hugging
// Face vocab.json (merges.txt beside it), or a directory holding either
// (bpe_vocab.txt.gz, or vocab.json + merges.txt).
absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadTokenizer(
    const std::string& path);

class ClipEncoder {
 public:
  // Loads weights in any format clip/weights.h reads, and the tokenizer (see
  // LoadTokenizer). INVALID_ARGUMENT when the tokenizer's vocabulary is larger
  // than the model's token embedding.
  static absl::StatusOr<std::unique_ptr<ClipEncoder>> Load(
      const std::string& weights_path, const std::string& tokenizer_path,
      const EncoderOptions& options = EncoderOptions());
  // A model with OpenAI's random initialisation (seeded), for tests and
  // benchmarks.
  static absl::StatusOr<std::unique_ptr<ClipEncoder>> CreateRandom(
      const ClipConfig& config, std::unique_ptr<BpeTokenizer> tokenizer,
      uint64_t seed, const EncoderOptions& options = EncoderOptions());
  // Encodes with `model` as it is now, e.g. the model being trained, for
  // validation through the same code the exporter and the server use. On
  // the CPU the weights are packed (copied) for the oneDNN path, so later
  // changes to `model` do not reach the encoder; on CUDA (and on a CPU
  // without oneDNN kernels) the encoder runs `model` itself, which must then
  // stay unchanged, and in eval mode, while the encoder is used. Pass
  // options.device matching the model's device.
  static absl::StatusOr<std::unique_ptr<ClipEncoder>> FromModel(
      const ClipModel& model, std::shared_ptr<const BpeTokenizer> tokenizer,
      const EncoderOptions& options = EncoderOptions());
  ~ClipEncoder();

  const ClipConfig& config() const;
  int64_t embed_dim() const { return config().embed_dim; }
  const BpeTokenizer& tokenizer() const { return *tokenizer_; }
  // Device the model runs on, e.g. "cpu".
  std::string device() const;
  // Whether the encoder loaded the image tower (EncoderOptions::image_tower):
  // EncodeImages works.
  bool has_image_tower() const { return options_.image_tower; }
  // The precision actually used (kAuto resolved).
  Precision precision() const;
  // One line for logs: device, precision, GEMM path and towers, e.g.
  // "cpu, precision bf16 (asked auto; cpu offers ...), oneDNN packed GEMMs
  // brg:avx512_core_bf16, text tower, 75.6 MB packed".
  std::string Describe() const;

  // [texts.size(), embed_dim] float32 row-major, each row L2-normalised.
  absl::StatusOr<std::vector<float>> EncodeTexts(
      absl::Span<const std::string> texts) const;

  // Same from token rows: `tokens` is [n, context_length] int64 row-major as
  // BpeTokenizer::Tokenize returns them.
  absl::StatusOr<std::vector<float>> EncodeTokens(
      absl::Span<const int64_t> tokens, int64_t n) const;

  // Like EncodeTexts but unnormalised (as OpenAI's encode_text).
  absl::StatusOr<std::vector<float>> EncodeTextsRaw(
      absl::Span<const std::string> texts) const;

  // pixels: [n, 3, R, R] float32 row-major, preprocessed (clip/
  // image_preprocess.h) at R = config().image_resolution. Returns [n,
  // embed_dim] float32, L2-normalised unless `normalize` is false.
  absl::StatusOr<std::vector<float>> EncodeImages(
      absl::Span<const float> pixels, int64_t n, bool normalize = true) const;

  // Number of tokens from SOT to EOT inclusive for `text` (at most the
  // context length): the work its encoding costs.
  int TokenLength(const std::string& text) const;

 private:
  struct Impl;
  ClipEncoder(std::unique_ptr<Impl> impl,
              std::shared_ptr<const BpeTokenizer> tokenizer,
              EncoderOptions options);
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<const BpeTokenizer> tokenizer_;
  EncoderOptions options_;
};

}  // namespace clip

#endif  // CLIP_ENCODER_H_
