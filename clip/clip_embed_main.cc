// clip_embed: encodes texts and images with a CLIP checkpoint.
//
// Usage:
//   clip_embed --weights=model.safetensors --vocab=bpe_simple_vocab_16e6.txt.gz
//       --texts=texts.jsonl --images=images/ --output=out.safetensors
//
// Writes text_tokens I64 [m,77], text_embeds F32 [m,D], image_input F32
// [n,3,R,R] and image_embeds F32 [n,D]; embeddings are unnormalised, exactly
// as OpenAI's encode_text / encode_image return them.
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "clip/embed_tool.h"
#include "common/exit_code.h"
#include "common/torch_threads.h"

ABSL_FLAG(std::string, weights, "",
          "CLIP checkpoint: safetensors (OpenAI/open_clip or Hugging Face "
          "names) or an OpenAI TorchScript .pt. Required.");
ABSL_FLAG(std::string, vocab, "",
          "Tokenizer: OpenAI's bpe_simple_vocab_16e6.txt.gz, a Hugging Face "
          "vocab.json (merges.txt beside it), or a directory with either. "
          "Default: the tokenizer files beside --weights.");
ABSL_FLAG(std::string, texts, "",
          "Texts to encode: .jsonl (one JSON string per line) or .txt (one "
          "text per line). Optional.");
ABSL_FLAG(std::string, images, "",
          "Images to encode: a directory (sorted by file name) or a .txt list "
          "of paths (order kept). Optional.");
ABSL_FLAG(std::string, output, "", "Output .safetensors file. Required.");
ABSL_FLAG(std::string, resize_mode, "center_crop",
          "center_crop (OpenAI), pad (letterbox) or squash.");
ABSL_FLAG(int, batch_size, 32, "Rows per forward pass.");
ABSL_FLAG(int, threads, 0, "Compute threads; 0 = all cores.");
ABSL_FLAG(std::string, precision, "fp32",
          "Inference precision: fp32 (default: the reference numerics), bf16, "
          "or auto (bf16 on CPUs with AVX512_BF16 or AMX, else fp32).");

int main(int argc, char** argv) {
  common::ParseFlagsOrExit(argc, argv,
                           "Encodes texts and images with a CLIP checkpoint "
                           "into a safetensors file.");
  common::SetComputeThreads(absl::GetFlag(FLAGS_threads));
  clip::EmbedToolOptions options;
  options.weights = absl::GetFlag(FLAGS_weights);
  options.vocab = absl::GetFlag(FLAGS_vocab);
  options.texts = absl::GetFlag(FLAGS_texts);
  options.images = absl::GetFlag(FLAGS_images);
  options.output = absl::GetFlag(FLAGS_output);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  auto mode = clip::ParseResizeMode(absl::GetFlag(FLAGS_resize_mode));
  if (!mode.ok()) {
    std::cerr << "clip_embed: " << mode.status() << "\n";
    return common::kExitUsage;
  }
  options.resize_mode = *mode;
  auto precision = clip::ParsePrecision(absl::GetFlag(FLAGS_precision));
  if (!precision.ok()) {
    std::cerr << "clip_embed: --precision: " << precision.status() << "\n";
    return common::kExitUsage;
  }
  options.precision = *precision;
  if (absl::Status st = clip::ValidateEmbedToolOptions(options); !st.ok()) {
    std::cerr << "clip_embed: " << st << "\n";
    return common::kExitUsage;
  }
  absl::Status st = clip::RunEmbedTool(options);
  if (!st.ok()) {
    std::cerr << "clip_embed: " << st << "\n";
    return common::kExitFailure;
  }
  std::cout << "wrote " << options.output << "\n";
  return common::kExitOk;
}
