// Single-threaded timings of the CLIP image transforms on the real crops in
// ../shared/data/paddleclas_pulc (person_attribute/ and vehicle_attribute/).
//
//   bazel run -c opt //clip:image_preprocess_benchmark
//
// Each iteration processes one image, cycling through the crops, so the
// reported time is per image. RETRIEVAL_SHARED_DIR overrides where the shared
// data is looked for.
#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "clip/image_preprocess.h"
#include "common/file_util.h"
#include "common/test_data.h"
#include "opencv2/core.hpp"
#include "opencv2/imgproc.hpp"

namespace clip {
namespace {

constexpr int kResolution = 224;

struct Corpus {
  std::vector<std::string> paths;
  std::vector<std::string> bytes;
  std::vector<cv::Mat> rgb;
};

const Corpus& GetCorpus() {
  static const Corpus* corpus = [] {
    cv::setNumThreads(1);
    auto* c = new Corpus;
    const std::string root = common_testing::SharedPath("data/paddleclas_pulc");
    if (root.empty()) return c;
    for (const char* sub : {"person_attribute", "vehicle_attribute"}) {
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(
               std::filesystem::path(root) / sub, ec)) {
        if (entry.path().extension() == ".jpg") {
          c->paths.push_back(entry.path().string());
        }
      }
    }
    std::sort(c->paths.begin(), c->paths.end());
    for (const std::string& path : c->paths) {
      auto bytes = common::ReadFile(path);
      auto rgb = DecodeImageFile(path);
      if (!bytes.ok() || !rgb.ok()) continue;
      c->bytes.push_back(*std::move(bytes));
      c->rgb.push_back(*std::move(rgb));
    }
    return c;
  }();
  return *corpus;
}

// Skips the benchmark (returns false) when the shared crops are missing.
bool HaveCorpus(benchmark::State& state) {
  if (GetCorpus().rgb.empty() ||
      GetCorpus().rgb.size() != GetCorpus().paths.size()) {
    state.SkipWithError(
        "no readable crops under ../shared/data/paddleclas_pulc "
        "(set RETRIEVAL_SHARED_DIR)");
    return false;
  }
  return true;
}

PreprocessOptions Options(int mode) {
  PreprocessOptions options;
  options.resolution = kResolution;
  options.mode = static_cast<ResizeMode>(mode);
  return options;
}

// The whole evaluation transform from the file on disk: read, decode,
// resize + center crop, normalise.
void BM_PreprocessFile(benchmark::State& state) {
  if (!HaveCorpus(state)) return;
  const Corpus& corpus = GetCorpus();
  const PreprocessOptions options = Options(state.range(0));
  std::vector<float> out(3 * kResolution * kResolution);
  size_t i = 0;
  for (auto _ : state) {
    const absl::Status status = PreprocessFile(
        corpus.paths[i++ % corpus.paths.size()], options, out.data());
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PreprocessFile)
    ->Arg(static_cast<int>(ResizeMode::kCenterCrop))
    ->Arg(static_cast<int>(ResizeMode::kPad))
    ->Arg(static_cast<int>(ResizeMode::kSquash));

// JPEG bytes already in memory to CV_8UC3 RGB.
void BM_DecodeImageBytes(benchmark::State& state) {
  if (!HaveCorpus(state)) return;
  const Corpus& corpus = GetCorpus();
  size_t i = 0;
  for (auto _ : state) {
    const size_t n = i++ % corpus.bytes.size();
    auto rgb = DecodeImageBytes(corpus.bytes[n], corpus.paths[n]);
    benchmark::DoNotOptimize(rgb);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeImageBytes);

// Decoded RGB to the R x R u8 square (the Pillow-matching resampler).
void BM_ResizeAndCrop(benchmark::State& state) {
  if (!HaveCorpus(state)) return;
  const Corpus& corpus = GetCorpus();
  const PreprocessOptions options = Options(state.range(0));
  size_t i = 0;
  for (auto _ : state) {
    auto square = ResizeAndCrop(corpus.rgb[i++ % corpus.rgb.size()], options);
    benchmark::DoNotOptimize(square);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResizeAndCrop)
    ->Arg(static_cast<int>(ResizeMode::kCenterCrop))
    ->Arg(static_cast<int>(ResizeMode::kPad))
    ->Arg(static_cast<int>(ResizeMode::kSquash));

// For comparison: OpenCV's own bicubic (not Pillow-matching, no antialiasing)
// to the same size, then the same crop.
void BM_OpenCvResizeCubicAndCrop(benchmark::State& state) {
  if (!HaveCorpus(state)) return;
  const Corpus& corpus = GetCorpus();
  size_t i = 0;
  for (auto _ : state) {
    const cv::Mat& rgb = corpus.rgb[i++ % corpus.rgb.size()];
    const cv::Size size = ShorterSideResizeSize(rgb.size(), kResolution);
    cv::Mat resized;
    cv::resize(rgb, resized, size, 0, 0, cv::INTER_CUBIC);
    cv::Mat square = resized(CenterCropRect(size, kResolution)).clone();
    benchmark::DoNotOptimize(square.data);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OpenCvResizeCubicAndCrop);

void BM_NormalizeToCHW(benchmark::State& state) {
  const cv::Mat square(kResolution, kResolution, CV_8UC3,
                       cv::Scalar(10, 120, 240));
  const PreprocessOptions options = Options(0);
  std::vector<float> out(3 * kResolution * kResolution);
  for (auto _ : state) {
    const absl::Status status = NormalizeToCHW(square, options, out.data());
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NormalizeToCHW);

// The training transform from the file: decode, random resized crop
// (defaults), resize + center crop, normalise. Arg 1 also turns on flip and
// colour jitter (0.4 each).
void BM_PreprocessFileForTraining(benchmark::State& state) {
  if (!HaveCorpus(state)) return;
  const Corpus& corpus = GetCorpus();
  const PreprocessOptions options = Options(0);
  AugmentOptions augment;
  if (state.range(0) == 1) {
    augment.horizontal_flip = true;
    augment.brightness = augment.contrast = augment.saturation = 0.4f;
  }
  std::mt19937_64 rng(1);
  std::vector<float> out(3 * kResolution * kResolution);
  size_t i = 0;
  for (auto _ : state) {
    const absl::Status status =
        PreprocessFileForTraining(corpus.paths[i++ % corpus.paths.size()],
                                  options, augment, &rng, out.data());
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PreprocessFileForTraining)->Arg(0)->Arg(1);

}  // namespace
}  // namespace clip
