// Fuzzes image decoding with a pixel limit and the evaluation transform
// (clip/image_preprocess.h).
//
// Invariants: a decoded image is a non-empty CV_8UC3 of at most max_pixels
// pixels; errors are INVALID_ARGUMENT or DATA_LOSS naming the input; every
// decoded image goes through the transform in each resize mode and gives
// finite values.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "clip/image_preprocess.h"
#include "fuzz/fuzz_check.h"

namespace {

// Small enough that a fuzz input cannot make the decoder allocate much.
constexpr int64_t kMaxPixels = 1 << 16;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto image = clip::DecodeImageBytes(bytes, "fuzz", kMaxPixels);
  if (!image.ok()) {
    const absl::StatusCode code = image.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument ||
               code == absl::StatusCode::kDataLoss)
        << image.status();
    FUZZ_CHECK(absl::StrContains(image.status().message(), "fuzz"))
        << image.status();
    return 0;
  }
  FUZZ_CHECK(!image->empty());
  FUZZ_CHECK(image->type() == CV_8UC3) << image->type();
  FUZZ_CHECK(static_cast<int64_t>(image->rows) * image->cols <= kMaxPixels)
      << image->cols << "x" << image->rows;
  clip::PreprocessOptions options;
  options.resolution = 8;
  options.max_pixels = kMaxPixels;
  std::vector<float> out(3 * 8 * 8);
  for (clip::ResizeMode mode :
       {clip::ResizeMode::kCenterCrop, clip::ResizeMode::kPad,
        clip::ResizeMode::kSquash}) {
    options.mode = mode;
    const absl::Status st = clip::PreprocessImage(*image, options, out.data());
    FUZZ_CHECK(st.ok()) << st;
    for (float v : out) FUZZ_CHECK(std::isfinite(v)) << v;
  }
  return 0;
}
