// encoder_bench: speed of CLIP text and image encoding on this machine.
//
// Usage:
//   encoder_bench [--arch=ViT-B-16] [--precision=auto|fp32|bf16]
//                 [--threads=0] [--captions=FILE] [--text_queries=200]
//                 [--image_batches=3]
//
// Builds a model of the given architecture with random weights (speed does
// not depend on the values), then measures:
//  - text encoding of real captions one at a time (batch 1): median and p90;
//  - text encoding in batches of 32: texts/s;
//  - image encoding at the model's resolution: images/s;
// with the effective GFLOP/s of each figure. tools/bench_inference.sh runs
// it in every precision next to the ONNX Runtime peer.
// Captions come from the competition's val annotations (field 3 of
// ../shared/data/track2/open-transmind/infer.txt) unless --captions is given.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "clip/config.h"
#include "clip/encoder.h"
#include "clip/onednn_linear.h"
#include "common/exit_code.h"
#include "common/file_util.h"
#include "common/torch_threads.h"
#include "eval/labels.h"

ABSL_FLAG(std::string, arch, "ViT-B-16",
          "Preset architecture (clip/config.h).");
ABSL_FLAG(int, threads, 0, "Compute threads; 0 = all cores.");
ABSL_FLAG(std::string, precision, "auto",
          "Inference precision: auto (bf16 where the CPU has AVX512_BF16 or "
          "AMX, else fp32), fp32 or bf16.");
ABSL_FLAG(std::string, vocab,
          "../shared/data/clip/bpe_simple_vocab_16e6.txt.gz",
          "OpenAI BPE vocabulary.");
ABSL_FLAG(std::string, captions,
          "../shared/data/track2/open-transmind/infer.txt",
          "Label file (image$attribute$text...) whose texts are the queries.");
ABSL_FLAG(int, text_queries, 200, "Captions timed one at a time.");
ABSL_FLAG(int, text_batches, 4, "Batches of 32 captions timed.");
ABSL_FLAG(int, image_batch, 8, "Images per forward pass.");
ABSL_FLAG(int, image_batches, 3, "Image batches timed.");

namespace {

using Clock = std::chrono::steady_clock;

// `bazel run` starts in the runfiles tree; relative paths are meant from
// the workspace.
std::string FromWorkspace(const std::string& path) {
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (path.empty() || path[0] == '/' || ws == nullptr) return path;
  return std::string(ws) + "/" + path;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

// FLOPs of one transformer pass over `tokens` positions of width `w`.
double TransformerFlops(double layers, double tokens, double w) {
  return layers * (24.0 * tokens * w * w + 4.0 * tokens * tokens * w);
}

}  // namespace

int main(int argc, char** argv) {
  common::ParseFlagsOrExit(
      argc, argv,
      "Speed of CLIP text and image encoding on this machine.\n"
      "  encoder_bench [--arch=ViT-B-16] [--precision=auto|fp32|bf16] "
      "[--threads=0] [--captions=FILE]");
  const int threads = common::SetComputeThreads(absl::GetFlag(FLAGS_threads));
  auto config = clip::PresetConfig(absl::GetFlag(FLAGS_arch));
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return common::kExitUsage;
  }
  auto tokenizer =
      clip::BpeTokenizer::LoadOpenAi(FromWorkspace(absl::GetFlag(FLAGS_vocab)));
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "%s\n", tokenizer.status().ToString().c_str());
    return common::kExitFailure;
  }
  eval::LabelReaderOptions lopts;
  lopts.allow_extra_fields = true;
  auto records =
      eval::ReadLabelFile(FromWorkspace(absl::GetFlag(FLAGS_captions)), lopts);
  if (!records.ok()) {
    std::fprintf(stderr, "%s\n", records.status().ToString().c_str());
    return common::kExitFailure;
  }
  std::vector<std::string> captions;
  for (const auto& r : *records) captions.push_back(r.text);
  std::mt19937 rng(1);
  std::shuffle(captions.begin(), captions.end(), rng);

  auto precision = clip::ParsePrecision(absl::GetFlag(FLAGS_precision));
  if (!precision.ok()) {
    std::fprintf(stderr, "--precision: %s\n",
                 precision.status().ToString().c_str());
    return common::kExitUsage;
  }
  clip::EncoderOptions eopts;
  eopts.max_batch_size = 64;
  eopts.precision = *precision;
  auto encoder = clip::ClipEncoder::CreateRandom(*config, std::move(*tokenizer),
                                                 /*seed=*/0, eopts);
  if (!encoder.ok()) {
    std::fprintf(stderr, "%s\n", encoder.status().ToString().c_str());
    return common::kExitFailure;
  }
  auto& enc = **encoder;
  std::printf("architecture %s (%s), %d threads\n",
              absl::GetFlag(FLAGS_arch).c_str(), config->Describe().c_str(),
              threads);
  std::printf("encoder: %s\n", enc.Describe().c_str());

  // Warm-up of the image path (first-call allocations).
  {
    std::vector<float> pix(
        3 * config->image_resolution * config->image_resolution, 0.1f);
    (void)enc.EncodeImages(pix, 1);  // warm-up
  }
  // Token lengths of the captions.
  std::vector<int> lengths;
  for (int i = 0; i < absl::GetFlag(FLAGS_text_queries); ++i) {
    lengths.push_back(enc.TokenLength(captions[i % captions.size()]));
  }
  std::printf(
      "caption tokens SOT..EOT: median %.0f, p90 %.0f\n",
      Percentile(std::vector<double>(lengths.begin(), lengths.end()), 0.5),
      Percentile(std::vector<double>(lengths.begin(), lengths.end()), 0.9));

  // Warm-up, then batch-1 latency.
  for (int i = 0; i < 5; ++i) (void)enc.EncodeTexts({captions[i]});
  std::vector<double> ms;
  double flops1 = 0;
  for (int i = 0; i < absl::GetFlag(FLAGS_text_queries); ++i) {
    const std::string& t = captions[i % captions.size()];
    auto a = Clock::now();
    auto e = enc.EncodeTexts({t});
    auto b = Clock::now();
    if (!e.ok()) {
      std::fprintf(stderr, "%s\n", e.status().ToString().c_str());
      return common::kExitFailure;
    }
    ms.push_back(1000 * Seconds(a, b));
    flops1 += TransformerFlops(config->transformer_layers, lengths[i],
                               config->transformer_width);
  }
  const double total_s = [&] {
    double s = 0;
    for (double m : ms) s += m / 1000;
    return s;
  }();
  const double text_gflops = flops1 / total_s / 1e9;
  std::printf(
      "text batch 1: median %.1f ms, p90 %.1f ms, p99 %.1f ms "
      "(%.0f GFLOP/s effective)\n",
      Percentile(ms, 0.5), Percentile(ms, 0.9), Percentile(ms, 0.99),
      text_gflops);

  // Batches of 32.
  {
    int n = 32 * absl::GetFlag(FLAGS_text_batches);
    std::vector<std::string> batch;
    double flops = 0;
    for (int i = 0; i < n; ++i) {
      batch.push_back(captions[(1000 + i) % captions.size()]);
      flops += TransformerFlops(config->transformer_layers,
                                enc.TokenLength(batch.back()),
                                config->transformer_width);
    }
    (void)enc.EncodeTexts(absl::MakeSpan(batch).subspan(0, 32));
    auto a = Clock::now();
    for (int i = 0; i < n; i += 32) {
      auto e = enc.EncodeTexts(absl::MakeSpan(batch).subspan(i, 32));
      if (!e.ok()) return common::kExitFailure;
    }
    auto b = Clock::now();
    std::printf("text batch 32: %.1f texts/s (%.0f GFLOP/s effective)\n",
                n / Seconds(a, b), flops / Seconds(a, b) / 1e9);
    std::printf(
        "oneDNN kernels cached after the text runs: %zu (capacity %zu)\n",
        clip::OneDnnLinear::CachedKernels(),
        clip::OneDnnLinear::kDefaultKernelCacheCapacity);
  }

  // Images.
  {
    const int64_t r = config->image_resolution;
    const int bs = absl::GetFlag(FLAGS_image_batch);
    std::vector<float> pixels(bs * 3 * r * r);
    std::normal_distribution<float> normal;
    for (float& p : pixels) p = normal(rng);
    (void)enc.EncodeImages(pixels, bs);
    auto a = Clock::now();
    for (int i = 0; i < absl::GetFlag(FLAGS_image_batches); ++i) {
      auto e = enc.EncodeImages(pixels, bs);
      if (!e.ok()) return common::kExitFailure;
    }
    auto b = Clock::now();
    const double n = bs * absl::GetFlag(FLAGS_image_batches);
    const double flops =
        TransformerFlops(config->vision_layers, config->vision_tokens(),
                         config->vision_width) +
        2.0 * (config->vision_tokens() - 1) * 3 * config->vision_patch_size *
            config->vision_patch_size * config->vision_width;
    std::printf(
        "images %lldpx batch %d: %.2f images/s (%.1f GFLOP/image, "
        "%.0f GFLOP/s effective)\n",
        static_cast<long long>(r), bs, n / Seconds(a, b), flops / 1e9,
        n * flops / Seconds(a, b) / 1e9);
  }
  return common::kExitOk;
}
