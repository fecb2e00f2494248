// CLIP image preprocessing without LibTorch: decoding, Pillow-compatible
// bicubic resampling, the OpenAI transform and training-time augmentation.
//
// The evaluation transform reproduces OpenAI CLIP's `_transform(R)`:
//   Resize(R, BICUBIC)   shorter side to R, longer side int(R * long / short),
//                        with Pillow's antialiased bicubic resampler;
//   CenterCrop(R)        offset int(round((size - R) / 2.0)), Python's round
//                        (ties to even);
//   ToTensor, Normalize  ((u8 / 255f) - mean) / std in float32, CHW.
//
// Images travel between the functions as cv::Mat CV_8UC3 in RGB order (not
// OpenCV's usual BGR). Output tensors are float32 [3, R, R] (CHW), written to
// caller-owned buffers of 3 * R * R floats.
//
// Thread safety: every function is reentrant; none keeps state between calls.
// A std::mt19937_64 passed to the augmentation functions must not be shared
// between threads without external locking.
#ifndef CLIP_IMAGE_PREPROCESS_H_
#define CLIP_IMAGE_PREPROCESS_H_

#include <array>
#include <cstdint>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "opencv2/core.hpp"

namespace clip {

// How a source image of any aspect ratio becomes R x R.
enum class ResizeMode {
  // OpenAI's default: shorter side to R, then the central R x R. Cuts off the
  // ends of the longer side.
  kCenterCrop,
  // Letterbox: longer side to R (shorter side round(R * short / long), at
  // least 1), centred on an R x R canvas filled with the mean colour
  // (round(255 * mean) per channel, which normalises to about 0). Keeps the
  // whole image, e.g. the head and feet of a tall pedestrian crop.
  kPad,
  // Resize to R x R ignoring the aspect ratio.
  kSquash,
};

// "center_crop", "pad" or "squash" <-> ResizeMode. INVALID_ARGUMENT for other
// words.
absl::StatusOr<ResizeMode> ParseResizeMode(absl::string_view word);
const char* ResizeModeName(ResizeMode mode);

// Default of PreprocessOptions::max_pixels: 50 megapixels.
inline constexpr int64_t kDefaultMaxImagePixels = 50'000'000;

// Options of the evaluation transform. The defaults are OpenAI's at 224.
struct PreprocessOptions {
  // Output side R in pixels; > 0.
  int resolution = 224;
  ResizeMode mode = ResizeMode::kCenterCrop;
  // Per-channel (R, G, B) mean and standard deviation on the [0, 1] scale;
  // every stddev must be > 0.
  std::array<float, 3> mean = {0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> stddev = {0.26862954f, 0.26130258f, 0.27577711f};
  // Largest image (width * height) the file functions decode; > 0. Checked
  // from the header before decoding: a small PNG can declare 20000 x 20000
  // pixels and cost gigabytes to decode. (OpenCV's own limit is 1 Gpx.)
  int64_t max_pixels = kDefaultMaxImagePixels;
};

// INVALID_ARGUMENT when the resolution or max_pixels is not positive or a
// stddev is not a positive finite number.
absl::Status ValidatePreprocessOptions(const PreprocessOptions& options);

// ---------------------------------------------------------------------------
// Decoding.

// Decodes a JPEG, PNG, BMP or WebP file into CV_8UC3 RGB. Grayscale is
// replicated to three channels, an alpha channel is dropped (not composited),
// 16-bit samples keep their high byte (as Pillow does for 16-bit RGB PNG).
// EXIF orientation is ignored, as Pillow's Image.open ignores it.
// Errors name the file: NOT_FOUND when it does not exist, INVALID_ARGUMENT
// when it is not a regular file (a FIFO, a device or a directory fails at
// once instead of blocking), other ReadFile codes for I/O errors, plus those
// of DecodeImageBytes.
absl::StatusOr<cv::Mat> DecodeImageFile(
    const std::string& path, int64_t max_pixels = kDefaultMaxImagePixels);

// Same as DecodeImageFile on bytes already in memory; `name` identifies them
// in error messages. INVALID_ARGUMENT when the bytes are empty or not in a
// supported format (other formats OpenCV reads are refused), or when the
// header of a PNG, JPEG, BMP or WebP declares more than `max_pixels` pixels
// (the message gives the size; nothing is decoded; an image whose header was
// not read is refused after decoding);
// DATA_LOSS when they start like a JPEG, PNG, BMP or WebP file but cannot be
// decoded (corrupt or truncated), including a JPEG cut short anywhere (no
// end-of-image marker after its scan), which libjpeg would otherwise decode
// with the missing part filled in.
absl::StatusOr<cv::Mat> DecodeImageBytes(
    absl::string_view bytes, absl::string_view name,
    int64_t max_pixels = kDefaultMaxImagePixels);

// ---------------------------------------------------------------------------
// Resampling and geometry.

// Resizes a CV_8UC1..CV_8UC4 image to width x height exactly as Pillow 9.4's
// Image.resize(size, BICUBIC) does for 8-bit modes (channels are filtered
// independently): separable cubic convolution with a = -0.5 whose support
// widens by the downscale factor (antialiasing), coefficients normalised to
// sum 1 in double and then rounded to 22-bit fixed point, the horizontal
// pass first into an 8-bit intermediate (rounded and clamped to [0, 255]),
// then the vertical pass. A pass whose size does not change is skipped.
// INVALID_ARGUMENT for an empty or non-8-bit input or a non-positive size.
absl::StatusOr<cv::Mat> ResizeBicubicPillow(const cv::Mat& image, int width,
                                            int height);

// Same as ResizeBicubicPillow(image, width, height)(roi), but computes only
// the pixels inside `roi`, which must lie within width x height. Bit-identical
// to resizing the whole image and cropping.
absl::StatusOr<cv::Mat> ResizeBicubicPillowRegion(const cv::Mat& image,
                                                  int width, int height,
                                                  const cv::Rect& roi);

// torchvision Resize(R) on a `size` image: the shorter side becomes R and the
// longer int(R * long / short) (truncated). Square inputs become R x R.
cv::Size ShorterSideResizeSize(cv::Size size, int resolution);

// torchvision CenterCrop(R) on a `size` image whose sides are both >= R:
// top = int(round((height - R) / 2.0)) with ties to even, left likewise.
cv::Rect CenterCropRect(cv::Size size, int resolution);

// kPad geometry: the size the content is resized to (longer side R) and where
// it sits on the R x R canvas (left/top = (R - side) / 2, floored).
cv::Rect PadContentRect(cv::Size size, int resolution);

// The u8 RGB value kPad fills with: round(255 * mean), clamped to [0, 255].
cv::Vec3b PadColour(const PreprocessOptions& options);

// Applies options.mode to a CV_8UC3 RGB image; returns CV_8UC3 RGB R x R.
// INVALID_ARGUMENT for an empty or non-CV_8UC3 image or invalid options.
absl::StatusOr<cv::Mat> ResizeAndCrop(const cv::Mat& rgb,
                                      const PreprocessOptions& options);

// ---------------------------------------------------------------------------
// Normalisation.

// Writes ((v / 255f) - mean[c]) / stddev[c] in float32 for every pixel of a
// CV_8UC3 RGB R x R image (R = options.resolution) to `out`, CHW: out[c*R*R
// + y*R + x]. Bit-identical to torchvision ToTensor + Normalize.
// `out` holds 3 * R * R floats. INVALID_ARGUMENT when the image is not
// CV_8UC3 R x R or the options are invalid.
absl::Status NormalizeToCHW(const cv::Mat& rgb,
                            const PreprocessOptions& options, float* out);

// ResizeAndCrop then NormalizeToCHW. `out` holds 3 * R * R floats.
absl::Status PreprocessImage(const cv::Mat& rgb,
                             const PreprocessOptions& options, float* out);

// DecodeImageFile then PreprocessImage: the whole evaluation transform.
absl::Status PreprocessFile(const std::string& path,
                            const PreprocessOptions& options, float* out);

// ---------------------------------------------------------------------------
// Training-time augmentation.
//
// Every random draw comes from the caller's std::mt19937_64 through
// distribution code of this library (not <random>'s distributions, whose
// output differs between standard libraries), so a seed reproduces the same
// augmentation on every platform. Draws happen in a fixed order: the crop
// (always), then the flip (only if enabled), then each enabled colour factor
// and the order the colour operations are applied in.

struct AugmentOptions {
  // Random resized crop, as torchvision RandomResizedCrop: the crop's area is
  // a fraction uniform in [scale[0], scale[1]] of the image's area; its
  // aspect ratio (width / height) is exp(uniform(log ratio[0], log ratio[1])),
  // multiplied by the image's own aspect ratio when ratio_relative_to_image
  // (the default here, so that tall pedestrian crops stay tall) or absolute
  // as in torchvision when false. Ten tries, then torchvision's fallback
  // (the largest centred crop whose aspect ratio is in range).
  // 0 < scale[0] <= scale[1] <= 1; 0 < ratio[0] <= ratio[1].
  std::array<double, 2> scale = {0.8, 1.0};
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};
  bool ratio_relative_to_image = true;
  // Mirror left-right with probability 1/2. Off by default: a text may say
  // "on the left".
  bool horizontal_flip = false;
  // Colour jitter strengths, each >= 0; 0 turns the operation off (the
  // default, because colour is part of the label). A factor f is drawn
  // uniform in [max(0, 1 - x), 1 + x]; brightness scales the pixel values,
  // contrast blends with the mean grey level of the crop, saturation blends
  // with each pixel's grey value (0.299 R + 0.587 G + 0.114 B). The enabled
  // operations run in a random order, as in torchvision ColorJitter.
  float brightness = 0.0f;
  float contrast = 0.0f;
  float saturation = 0.0f;
};

// INVALID_ARGUMENT naming the field when a range is empty or out of bounds
// or a jitter strength is negative or not finite.
absl::Status ValidateAugmentOptions(const AugmentOptions& options);

// Draws a crop rectangle for a `size` image (the RandomResizedCrop step).
// The result lies inside the image and is at least 1 x 1. `options` must be
// valid.
cv::Rect RandomResizedCropRect(cv::Size size, const AugmentOptions& options,
                               std::mt19937_64* rng);

// The training transform up to u8: random resized crop, optional flip and
// colour jitter on the crop, then ResizeAndCrop(options) (so kPad keeps the
// whole crop). Returns CV_8UC3 RGB R x R. With scale {1, 1}, ratio {1, 1}
// (relative), no flip and no jitter it equals ResizeAndCrop exactly.
// INVALID_ARGUMENT for a bad image or invalid options.
absl::StatusOr<cv::Mat> AugmentImage(const cv::Mat& rgb,
                                     const PreprocessOptions& options,
                                     const AugmentOptions& augment,
                                     std::mt19937_64* rng);

// DecodeImageFile, AugmentImage, NormalizeToCHW. `out` holds 3 * R * R floats.
absl::Status PreprocessFileForTraining(const std::string& path,
                                       const PreprocessOptions& options,
                                       const AugmentOptions& augment,
                                       std::mt19937_64* rng, float* out);

}  // namespace clip

#endif  // CLIP_IMAGE_PREPROCESS_H_
