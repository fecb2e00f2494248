// Pillow-compatible bicubic resampling and the CLIP image transforms.
//
// The coefficient arithmetic follows the documented order of operations of
// Pillow's resampler in double precision, so the BUILD target compiles this
// file with -ffp-contract=off: a fused multiply-add would round differently
// and could move a coefficient by one fixed-point unit.
#include "clip/image_preprocess.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"

namespace clip {

absl::StatusOr<ResizeMode> ParseResizeMode(absl::string_view word) {
  if (word == "center_crop") return ResizeMode::kCenterCrop;
  if (word == "pad") return ResizeMode::kPad;
  if (word == "squash") return ResizeMode::kSquash;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown resize mode '", word,
                   "' (expected center_crop, pad or squash)"));
}

const char* ResizeModeName(ResizeMode mode) {
  switch (mode) {
    case ResizeMode::kCenterCrop:
      return "center_crop";
    case ResizeMode::kPad:
      return "pad";
    case ResizeMode::kSquash:
      return "squash";
  }
  return "center_crop";
}

namespace {

// Fixed-point precision of the 8-bit resampler: 8 bits of pixel value and
// two bits of headroom for the negative lobes remain in a 32-bit int.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kHalf = int32_t{1} << (kPrecisionBits - 1);
// Support of the cubic kernel at scale 1.
constexpr double kCubicSupport = 2.0;

// Cubic convolution kernel with a = -0.5 (Keys), written in the evaluation
// order Pillow documents: ((a + 2) x - (a + 3)) x^2 + 1 on [0, 1) and
// (((x - 5) x + 8) x - 4) a on [1, 2).
double CubicKernel(double x) {
  constexpr double kA = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((kA + 2.0) * x - (kA + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * kA;
  return 0.0;
}

// Rounds the sum to 8 bits: arithmetic shift, then clamp to [0, 255].
inline uint8_t Clip8(int32_t sum) {
  const int32_t v = sum >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Fixed-point filter taps of one resampling direction for the output range
// [begin, begin + n).
struct FilterBank {
  int ksize = 0;                 // Stride of `weights`.
  std::vector<int> first;        // First source index per output.
  std::vector<int> count;        // Number of taps per output.
  std::vector<int32_t> weights;  // [n * ksize], 22-bit fixed point.
};

FilterBank MakeFilterBank(int in_size, int out_size, int begin, int n) {
  FilterBank bank;
  // The source box is [0, in_size), held as float by Pillow; integer sizes
  // are exact in float.
  const double scale =
      static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = kCubicSupport * filterscale;
  bank.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  bank.first.resize(n);
  bank.count.resize(n);
  bank.weights.assign(static_cast<size_t>(n) * bank.ksize, 0);
  std::vector<double> w(bank.ksize);
  const double inv_filterscale = 1.0 / filterscale;
  for (int i = 0; i < n; ++i) {
    const int xx = begin + i;
    const double center = (xx + 0.5) * scale;
    // Truncation toward zero, then clamping, as Pillow rounds the bounds.
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    const int taps = xmax - xmin;
    double total = 0.0;
    for (int x = 0; x < taps; ++x) {
      w[x] = CubicKernel((x + xmin - center + 0.5) * inv_filterscale);
      total += w[x];
    }
    int32_t* k = &bank.weights[static_cast<size_t>(i) * bank.ksize];
    for (int x = 0; x < taps; ++x) {
      const double normalised = total != 0.0 ? w[x] / total : w[x];
      const double scaled = normalised * (1 << kPrecisionBits);
      k[x] =
          static_cast<int32_t>(normalised < 0 ? -0.5 + scaled : 0.5 + scaled);
    }
    bank.first[i] = xmin;
    bank.count[i] = taps;
  }
  return bank;
}

// Horizontal pass: rows [row_first, row_first + dst->rows) of `src`, output
// columns described by `bank` (dst->cols of them).
template <int C>
void HorizontalPass(const cv::Mat& src, int row_first, const FilterBank& bank,
                    cv::Mat* dst) {
  const int ksize = bank.ksize;
  for (int r = 0; r < dst->rows; ++r) {
    const uint8_t* s = src.ptr<uint8_t>(row_first + r);
    uint8_t* d = dst->ptr<uint8_t>(r);
    for (int xx = 0; xx < dst->cols; ++xx) {
      const int32_t* k = &bank.weights[static_cast<size_t>(xx) * ksize];
      const uint8_t* p = s + static_cast<size_t>(bank.first[xx]) * C;
      const int taps = bank.count[xx];
      // One named accumulator per channel keeps the sums in registers.
      int32_t a0 = kHalf, a1 = kHalf, a2 = kHalf, a3 = kHalf;
      for (int t = 0; t < taps; ++t) {
        const int32_t w = k[t];
        const uint8_t* px = p + t * C;
        a0 += px[0] * w;
        if constexpr (C > 1) a1 += px[1] * w;
        if constexpr (C > 2) a2 += px[2] * w;
        if constexpr (C > 3) a3 += px[3] * w;
      }
      uint8_t* out = d + xx * C;
      out[0] = Clip8(a0);
      if constexpr (C > 1) out[1] = Clip8(a1);
      if constexpr (C > 2) out[2] = Clip8(a2);
      if constexpr (C > 3) out[3] = Clip8(a3);
    }
  }
}

// Vertical pass over an intermediate whose row 0 is source row `row_offset`.
// The values of a row are processed in blocks of kBlock with a fixed-size
// accumulator, a shape compilers vectorise even at -O2.
void VerticalPass(const cv::Mat& tmp, int row_offset, const FilterBank& bank,
                  cv::Mat* dst) {
  constexpr int kBlock = 32;
  const int values = dst->cols * dst->channels();
  std::vector<const uint8_t*> rows(bank.ksize);
  for (int yy = 0; yy < dst->rows; ++yy) {
    const int32_t* k = &bank.weights[static_cast<size_t>(yy) * bank.ksize];
    const int first = bank.first[yy] - row_offset;
    const int taps = bank.count[yy];
    for (int t = 0; t < taps; ++t) rows[t] = tmp.ptr<uint8_t>(first + t);
    uint8_t* d = dst->ptr<uint8_t>(yy);
    int i = 0;
    for (; i + kBlock <= values; i += kBlock) {
      int32_t acc[kBlock];
      for (int j = 0; j < kBlock; ++j) acc[j] = kHalf;
      for (int t = 0; t < taps; ++t) {
        const uint8_t* s = rows[t] + i;
        const int32_t w = k[t];
        for (int j = 0; j < kBlock; ++j) acc[j] += s[j] * w;
      }
      for (int j = 0; j < kBlock; ++j) d[i + j] = Clip8(acc[j]);
    }
    for (; i < values; ++i) {
      int32_t acc = kHalf;
      for (int t = 0; t < taps; ++t) acc += rows[t][i] * k[t];
      d[i] = Clip8(acc);
    }
  }
}

// Python's round() for the values used here: ties to even.
double RoundHalfEven(double v) {
  const double r = std::round(v);
  if (std::fabs(v - std::trunc(v)) == 0.5) return 2.0 * std::round(v / 2.0);
  return r;
}

absl::Status CheckRgb(const cv::Mat& rgb, absl::string_view what) {
  if (rgb.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": empty image"));
  }
  if (rgb.type() != CV_8UC3) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected an 8-bit 3-channel RGB image, got type ",
                     rgb.type(), " with ", rgb.channels(), " channel(s)"));
  }
  return absl::OkStatus();
}

// ---- Decoding ---------------------------------------------------------------

bool StartsWith(absl::string_view bytes, absl::string_view prefix) {
  return bytes.size() >= prefix.size() &&
         bytes.substr(0, prefix.size()) == prefix;
}

// True when `bytes` carry the signature of a format this library promises to
// read, so a decoding failure means damage rather than a wrong format.
bool HasKnownSignature(absl::string_view bytes) {
  static constexpr char kJpeg[] = "\xFF\xD8\xFF";
  static constexpr char kPng[] = "\x89PNG\r\n\x1A\n";
  if (StartsWith(bytes, absl::string_view(kJpeg, 3))) return true;
  if (StartsWith(bytes, absl::string_view(kPng, 8))) return true;
  if (StartsWith(bytes, "BM")) return true;
  if (bytes.size() >= 12 && StartsWith(bytes, "RIFF") &&
      bytes.substr(8, 4) == "WEBP") {
    return true;
  }
  return false;
}

// Converts any decoded OpenCV image (BGR order, 1-4 channels, 8/16-bit or
// float) to CV_8UC3 RGB.
absl::StatusOr<cv::Mat> ToRgb8(const cv::Mat& decoded, absl::string_view name) {
  cv::Mat m8;
  switch (decoded.depth()) {
    case CV_8U:
      m8 = decoded;
      break;
    case CV_16U: {
      // Keep the high byte, as Pillow does when it opens 16-bit RGB PNGs.
      m8.create(decoded.rows, decoded.cols, CV_8UC(decoded.channels()));
      const int values = decoded.cols * decoded.channels();
      for (int r = 0; r < decoded.rows; ++r) {
        const uint16_t* s = decoded.ptr<uint16_t>(r);
        uint8_t* d = m8.ptr<uint8_t>(r);
        for (int i = 0; i < values; ++i) d[i] = static_cast<uint8_t>(s[i] >> 8);
      }
      break;
    }
    case CV_32F:
      decoded.convertTo(m8, CV_8U, 255.0);
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("image ", name, ": unsupported sample depth ",
                       decoded.depth(), " (OpenCV depth code)"));
  }
  cv::Mat rgb;
  switch (m8.channels()) {
    case 1:
      cv::cvtColor(m8, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 2: {
      // Grey + alpha: the alpha channel is dropped.
      cv::Mat grey;
      cv::extractChannel(m8, grey, 0);
      cv::cvtColor(grey, rgb, cv::COLOR_GRAY2RGB);
      break;
    }
    case 3:
      cv::cvtColor(m8, rgb, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(m8, rgb, cv::COLOR_BGRA2RGB);
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "image ", name, ": unsupported channel count ", m8.channels()));
  }
  return rgb;
}

// ---- Random draws -----------------------------------------------------------

// Uniform in [0, 1) from the top 53 bits of one draw.
double Uniform01(std::mt19937_64* rng) {
  return static_cast<double>((*rng)() >> 11) * 0x1.0p-53;
}

double Uniform(std::mt19937_64* rng, double lo, double hi) {
  return lo + (hi - lo) * Uniform01(rng);
}

// Uniform integer in [0, n), n > 0, by multiply-high (bias < n / 2^64).
int64_t UniformInt(std::mt19937_64* rng, int64_t n) {
  const unsigned __int128 product =
      static_cast<unsigned __int128>((*rng)()) * static_cast<uint64_t>(n);
  return static_cast<int64_t>(product >> 64);
}

uint8_t RoundToU8(float v) {
  const float r = std::nearbyint(v);
  return static_cast<uint8_t>(r < 0.0f ? 0.0f : (r > 255.0f ? 255.0f : r));
}

void AdjustBrightness(float factor, cv::Mat* rgb) {
  for (int r = 0; r < rgb->rows; ++r) {
    uint8_t* p = rgb->ptr<uint8_t>(r);
    for (int i = 0; i < rgb->cols * 3; ++i) p[i] = RoundToU8(p[i] * factor);
  }
}

float Grey(const uint8_t* px) {
  return 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
}

void AdjustContrast(float factor, cv::Mat* rgb) {
  double total = 0.0;
  for (int r = 0; r < rgb->rows; ++r) {
    const uint8_t* p = rgb->ptr<uint8_t>(r);
    for (int x = 0; x < rgb->cols; ++x) total += Grey(p + 3 * x);
  }
  const float mean =
      static_cast<float>(total / (static_cast<double>(rgb->rows) * rgb->cols));
  for (int r = 0; r < rgb->rows; ++r) {
    uint8_t* p = rgb->ptr<uint8_t>(r);
    for (int i = 0; i < rgb->cols * 3; ++i) {
      p[i] = RoundToU8(mean + factor * (p[i] - mean));
    }
  }
}

void AdjustSaturation(float factor, cv::Mat* rgb) {
  for (int r = 0; r < rgb->rows; ++r) {
    uint8_t* p = rgb->ptr<uint8_t>(r);
    for (int x = 0; x < rgb->cols; ++x) {
      uint8_t* px = p + 3 * x;
      const float grey = Grey(px);
      for (int c = 0; c < 3; ++c) {
        px[c] = RoundToU8(grey + factor * (px[c] - grey));
      }
    }
  }
}

// Draws the enabled colour factors and their order, then applies them.
void ColourJitter(const AugmentOptions& augment, std::mt19937_64* rng,
                  cv::Mat* rgb) {
  struct Op {
    int kind;  // 0 brightness, 1 contrast, 2 saturation.
    float factor;
  };
  std::vector<Op> ops;
  const float strengths[3] = {augment.brightness, augment.contrast,
                              augment.saturation};
  for (int kind = 0; kind < 3; ++kind) {
    if (strengths[kind] > 0.0f) {
      const double lo = std::max(0.0, 1.0 - strengths[kind]);
      const double hi = 1.0 + strengths[kind];
      ops.push_back({kind, static_cast<float>(Uniform(rng, lo, hi))});
    }
  }
  if (ops.empty()) return;
  // Fisher-Yates with this file's integer draw.
  for (int i = static_cast<int>(ops.size()) - 1; i > 0; --i) {
    std::swap(ops[i], ops[UniformInt(rng, i + 1)]);
  }
  for (const Op& op : ops) {
    switch (op.kind) {
      case 0:
        AdjustBrightness(op.factor, rgb);
        break;
      case 1:
        AdjustContrast(op.factor, rgb);
        break;
      default:
        AdjustSaturation(op.factor, rgb);
        break;
    }
  }
}

}  // namespace

namespace {

// What the header of an image says before it is decoded.
struct ImageHeader {
  int64_t width = -1, height = -1;  // -1: not read (format not parsed here)
  bool truncated_jpeg = false;      // a JPEG without EOI after its scan
};

uint32_t BigEndian(absl::string_view b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i)
    v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

uint32_t LittleEndian(absl::string_view b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  }
  return v;
}

int64_t LittleEndianSigned32(absl::string_view b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return static_cast<int32_t>(v);
}

// JPEG: walks the marker segments up to the first start of scan, taking the
// size from the SOFn segment; then, as entropy-coded data never holds 0xFF
// 0xD9 (0xFF is stuffed as 0xFF 0x00), an EOI must follow somewhere. Stray
// bytes before a marker, and 0xFF 0x00, are skipped as libjpeg skips them
// (it warns and reads on). A file whose header itself is cut is left to the
// decoder.
void ReadJpegHeader(absl::string_view b, ImageHeader* h) {
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (static_cast<unsigned char>(b[pos]) != 0xFF) {
      ++pos;
      continue;
    }
    const unsigned char marker = static_cast<unsigned char>(b[pos + 1]);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0x00 || marker == 0x01 ||
        (marker >= 0xD0 && marker <= 0xD8)) {
      pos += 2;
      continue;
    }
    if (marker == 0xD9) return;
    const size_t length = BigEndian(b, pos + 2, 2);
    if (length < 2 || pos + 2 + length > b.size()) return;
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 &&
                     marker != 0xC8 && marker != 0xCC;
    if (sof && length >= 7) {
      h->height = BigEndian(b, pos + 5, 2);
      h->width = BigEndian(b, pos + 7, 2);
    }
    if (marker == 0xDA) {
      const absl::string_view rest = b.substr(pos + 2 + length);
      h->truncated_jpeg = rest.find(absl::string_view("\xFF\xD9", 2)) ==
                          absl::string_view::npos;
      return;
    }
    pos += 2 + length;
  }
}

ImageHeader ReadImageHeader(absl::string_view b) {
  ImageHeader h;
  if (StartsWith(b, absl::string_view("\xFF\xD8\xFF", 3))) {
    ReadJpegHeader(b, &h);
  } else if (StartsWith(b, absl::string_view("\x89PNG\r\n\x1A\n", 8)) &&
             b.size() >= 24 && b.substr(12, 4) == "IHDR") {
    h.width = BigEndian(b, 16, 4);
    h.height = BigEndian(b, 20, 4);
  } else if (StartsWith(b, "BM") && b.size() >= 26 &&
             BigEndian(b, 14, 1) >= 40) {  // BITMAPINFOHEADER or later
    h.width = LittleEndianSigned32(b, 18);
    h.height = std::abs(LittleEndianSigned32(b, 22));  // < 0: top-down
  } else if (StartsWith(b, "BM") && b.size() >= 22 &&
             LittleEndian(b, 14, 4) == 12) {  // OS/2 BITMAPCOREHEADER
    h.width = LittleEndian(b, 18, 2);
    h.height = LittleEndian(b, 20, 2);
  } else if (b.size() >= 30 && StartsWith(b, "RIFF") &&
             b.substr(8, 4) == "WEBP") {
    const absl::string_view chunk = b.substr(12, 4);
    if (chunk == "VP8X") {  // extended: 24-bit canvas size minus one
      h.width = LittleEndian(b, 24, 3) + 1;
      h.height = LittleEndian(b, 27, 3) + 1;
    } else if (chunk == "VP8L" && static_cast<unsigned char>(b[20]) == 0x2f) {
      const uint32_t bits = LittleEndian(b, 21, 4);  // 14-bit sizes minus one
      h.width = (bits & 0x3fff) + 1;
      h.height = ((bits >> 14) & 0x3fff) + 1;
    } else if (chunk == "VP8 " && b.substr(23, 3) == "\x9d\x01\x2a") {
      h.width = LittleEndian(b, 26, 2) & 0x3fff;  // lossy key frame
      h.height = LittleEndian(b, 28, 2) & 0x3fff;
    }
  }
  return h;
}

}  // namespace

absl::Status ValidatePreprocessOptions(const PreprocessOptions& options) {
  if (options.resolution <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("preprocess options: resolution must be > 0, got ",
                     options.resolution));
  }
  for (int c = 0; c < 3; ++c) {
    if (!(options.stddev[c] > 0.0f) || !std::isfinite(options.stddev[c])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "preprocess options: stddev[", c,
          "] must be a positive finite number, got ", options.stddev[c]));
    }
    if (!std::isfinite(options.mean[c])) {
      return absl::InvalidArgumentError(
          absl::StrCat("preprocess options: mean[", c, "] must be finite"));
    }
  }
  if (options.max_pixels <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("preprocess options: max_pixels must be > 0, got ",
                     options.max_pixels));
  }
  switch (options.mode) {
    case ResizeMode::kCenterCrop:
    case ResizeMode::kPad:
    case ResizeMode::kSquash:
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("preprocess options: unknown resize mode ",
                       static_cast<int>(options.mode)));
  }
  return absl::OkStatus();
}

absl::StatusOr<cv::Mat> DecodeImageBytes(absl::string_view bytes,
                                         absl::string_view name,
                                         int64_t max_pixels) {
  if (bytes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image ", name, ": empty file, not an image"));
  }
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image ", name, ": ", bytes.size(), " bytes is too large to decode"));
  }
  const ImageHeader header = ReadImageHeader(bytes);
  if (header.width >= 0 && header.height >= 0) {
    // Both sizes are below 2^32, so the product fits in 64 unsigned bits.
    const uint64_t pixels = static_cast<uint64_t>(header.width) *
                            static_cast<uint64_t>(header.height);
    if (max_pixels < 0 || pixels > static_cast<uint64_t>(max_pixels)) {
      return absl::InvalidArgumentError(
          absl::StrCat("image ", name, ": ", header.width, "x", header.height,
                       " (", pixels, " pixels) is larger than the limit of ",
                       max_pixels, " pixels; not decoded"));
    }
  }
  if (header.width < 0 &&
      StartsWith(bytes, absl::string_view("\xFF\xD8\xFF", 3))) {
    // libjpeg reads on past malformed segments and would decode a size never
    // checked here.
    return absl::DataLossError(absl::StrCat(
        "image ", name,
        ": corrupt JPEG, no readable frame header (SOFn) before the image "
        "data"));
  }
  if (header.truncated_jpeg) {
    return absl::DataLossError(absl::StrCat(
        "image ", name,
        ": truncated JPEG (no end-of-image marker after the image data)"));
  }
  if (!HasKnownSignature(bytes)) {
    // OpenCV would also decode PNM, TIFF, Sun raster, ... whose headers are
    // not checked against max_pixels.
    return absl::InvalidArgumentError(absl::StrCat(
        "image ", name,
        ": not a decodable image (expected JPEG, PNG, BMP or WebP)"));
  }
  cv::Mat decoded;
  std::string error;
  try {
    // imdecode does not modify its input; the Mat header only wraps it.
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                         const_cast<char*>(bytes.data()));
    // IMREAD_UNCHANGED keeps the bit depth and skips EXIF orientation.
    decoded = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    error = e.what();
  }
  if (decoded.empty()) {
    const std::string detail =
        error.empty() ? std::string() : absl::StrCat(" (", error, ")");
    if (HasKnownSignature(bytes)) {
      return absl::DataLossError(absl::StrCat(
          "image ", name, ": corrupt or truncated image data", detail));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "image ", name,
        ": not a decodable image (expected JPEG, PNG, BMP or WebP)", detail));
  }
  // A header the checks above could not read is still held to the limit.
  if (static_cast<int64_t>(decoded.total()) > max_pixels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image ", name, ": ", decoded.cols, "x", decoded.rows,
        " pixels is larger than the limit of ", max_pixels, " pixels"));
  }
  return ToRgb8(decoded, name);
}

absl::StatusOr<cv::Mat> DecodeImageFile(const std::string& path,
                                        int64_t max_pixels) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string message =
        absl::StrCat("image ", path, ": cannot open: ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES || err == EPERM)
      return absl::PermissionDeniedError(message);
    return absl::InternalError(message);
  }
  struct stat st;
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image ", path,
        ": not a regular file (a FIFO, device or directory); images must be "
        "regular files"));
  }
  ASSIGN_OR_RETURN(const std::string bytes, common::ReadFile(path));
  return DecodeImageBytes(bytes, path, max_pixels);
}

absl::StatusOr<cv::Mat> ResizeBicubicPillowRegion(const cv::Mat& image,
                                                  int width, int height,
                                                  const cv::Rect& roi) {
  if (image.empty()) {
    return absl::InvalidArgumentError("ResizeBicubicPillow: empty image");
  }
  if (image.depth() != CV_8U || image.channels() < 1 || image.channels() > 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ResizeBicubicPillow: expected 8-bit with 1 to 4 channels, got type ",
        image.type()));
  }
  if (width <= 0 || height <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ResizeBicubicPillow: output size must be positive, got ",
                     width, "x", height));
  }
  if (roi.width <= 0 || roi.height <= 0 || roi.x < 0 || roi.y < 0 ||
      roi.x + roi.width > width || roi.y + roi.height > height) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ResizeBicubicPillow: region ", roi.width, "x", roi.height, "+", roi.x,
        "+", roi.y, " is not inside ", width, "x", height));
  }
  const int channels = image.channels();
  const bool need_horizontal = width != image.cols;
  const bool need_vertical = height != image.rows;

  FilterBank vertical;
  int row_first = roi.y;
  int row_last = roi.y + roi.height;
  if (need_vertical) {
    vertical = MakeFilterBank(image.rows, height, roi.y, roi.height);
    row_first = image.rows;
    row_last = 0;
    for (int i = 0; i < roi.height; ++i) {
      row_first = std::min(row_first, vertical.first[i]);
      row_last = std::max(row_last, vertical.first[i] + vertical.count[i]);
    }
  }

  cv::Mat tmp;
  if (need_horizontal) {
    const FilterBank horizontal =
        MakeFilterBank(image.cols, width, roi.x, roi.width);
    tmp.create(row_last - row_first, roi.width, image.type());
    switch (channels) {
      case 1:
        HorizontalPass<1>(image, row_first, horizontal, &tmp);
        break;
      case 2:
        HorizontalPass<2>(image, row_first, horizontal, &tmp);
        break;
      case 3:
        HorizontalPass<3>(image, row_first, horizontal, &tmp);
        break;
      default:
        HorizontalPass<4>(image, row_first, horizontal, &tmp);
        break;
    }
  } else {
    tmp = image(cv::Rect(roi.x, row_first, roi.width, row_last - row_first));
  }

  if (!need_vertical) return tmp.clone();
  cv::Mat out(roi.height, roi.width, image.type());
  VerticalPass(tmp, row_first, vertical, &out);
  return out;
}

absl::StatusOr<cv::Mat> ResizeBicubicPillow(const cv::Mat& image, int width,
                                            int height) {
  return ResizeBicubicPillowRegion(
      image, width, height,
      cv::Rect(0, 0, std::max(width, 0), std::max(height, 0)));
}

cv::Size ShorterSideResizeSize(cv::Size size, int resolution) {
  const bool portrait = size.width <= size.height;
  const int64_t shorter = portrait ? size.width : size.height;
  const int64_t longer = portrait ? size.height : size.width;
  // Python: int(R * long / short), a correctly rounded true division of two
  // exact integers, then truncation.
  const int new_long =
      static_cast<int>(static_cast<double>(int64_t{resolution} * longer) /
                       static_cast<double>(shorter));
  return portrait ? cv::Size(resolution, new_long)
                  : cv::Size(new_long, resolution);
}

cv::Rect CenterCropRect(cv::Size size, int resolution) {
  const int top = std::max(
      0, static_cast<int>(RoundHalfEven((size.height - resolution) / 2.0)));
  const int left = std::max(
      0, static_cast<int>(RoundHalfEven((size.width - resolution) / 2.0)));
  return cv::Rect(left, top, std::min(resolution, size.width),
                  std::min(resolution, size.height));
}

cv::Rect PadContentRect(cv::Size size, int resolution) {
  const bool portrait = size.width <= size.height;
  const double shorter = portrait ? size.width : size.height;
  const double longer = portrait ? size.height : size.width;
  const int new_short =
      std::max(1, static_cast<int>(std::lround(resolution * shorter / longer)));
  const int w = portrait ? new_short : resolution;
  const int h = portrait ? resolution : new_short;
  return cv::Rect((resolution - w) / 2, (resolution - h) / 2, w, h);
}

cv::Vec3b PadColour(const PreprocessOptions& options) {
  cv::Vec3b colour;
  for (int c = 0; c < 3; ++c) colour[c] = RoundToU8(255.0f * options.mean[c]);
  return colour;
}

absl::StatusOr<cv::Mat> ResizeAndCrop(const cv::Mat& rgb,
                                      const PreprocessOptions& options) {
  RETURN_IF_ERROR(CheckRgb(rgb, "ResizeAndCrop"));
  RETURN_IF_ERROR(ValidatePreprocessOptions(options));
  const int r = options.resolution;
  switch (options.mode) {
    case ResizeMode::kCenterCrop: {
      const cv::Size resized = ShorterSideResizeSize(rgb.size(), r);
      return ResizeBicubicPillowRegion(rgb, resized.width, resized.height,
                                       CenterCropRect(resized, r));
    }
    case ResizeMode::kSquash:
      return ResizeBicubicPillow(rgb, r, r);
    case ResizeMode::kPad: {
      const cv::Rect content = PadContentRect(rgb.size(), r);
      ASSIGN_OR_RETURN(cv::Mat resized,
                       ResizeBicubicPillow(rgb, content.width, content.height));
      cv::Mat canvas(r, r, CV_8UC3, cv::Scalar(PadColour(options)));
      resized.copyTo(canvas(content));
      return canvas;
    }
  }
  return absl::InternalError("ResizeAndCrop: unhandled resize mode");
}

absl::Status NormalizeToCHW(const cv::Mat& rgb,
                            const PreprocessOptions& options, float* out) {
  RETURN_IF_ERROR(CheckRgb(rgb, "NormalizeToCHW"));
  RETURN_IF_ERROR(ValidatePreprocessOptions(options));
  const int r = options.resolution;
  if (rgb.rows != r || rgb.cols != r) {
    return absl::InvalidArgumentError(
        absl::StrCat("NormalizeToCHW: expected a ", r, "x", r, " image, got ",
                     rgb.cols, "x", rgb.rows));
  }
  // Per-channel lookup of ((v / 255f) - mean) / std: the same float32
  // operations, in the same order, as ToTensor + Normalize.
  float table[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      const float unit = static_cast<float>(v) / 255.0f;
      table[c][v] = (unit - options.mean[c]) / options.stddev[c];
    }
  }
  const size_t plane = static_cast<size_t>(r) * r;
  float* out_r = out;
  float* out_g = out + plane;
  float* out_b = out + 2 * plane;
  for (int y = 0; y < r; ++y) {
    const uint8_t* p = rgb.ptr<uint8_t>(y);
    const size_t row = static_cast<size_t>(y) * r;
    for (int x = 0; x < r; ++x) {
      out_r[row + x] = table[0][p[3 * x + 0]];
      out_g[row + x] = table[1][p[3 * x + 1]];
      out_b[row + x] = table[2][p[3 * x + 2]];
    }
  }
  return absl::OkStatus();
}

absl::Status PreprocessImage(const cv::Mat& rgb,
                             const PreprocessOptions& options, float* out) {
  ASSIGN_OR_RETURN(const cv::Mat square, ResizeAndCrop(rgb, options));
  return NormalizeToCHW(square, options, out);
}

absl::Status PreprocessFile(const std::string& path,
                            const PreprocessOptions& options, float* out) {
  RETURN_IF_ERROR(ValidatePreprocessOptions(options));
  ASSIGN_OR_RETURN(const cv::Mat rgb,
                   DecodeImageFile(path, options.max_pixels));
  return PreprocessImage(rgb, options, out);
}

absl::Status ValidateAugmentOptions(const AugmentOptions& options) {
  const auto& s = options.scale;
  if (!(s[0] > 0.0) || !(s[0] <= s[1]) || !(s[1] <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "augment options: scale must satisfy 0 < scale[0] <= scale[1] <= 1, "
        "got (",
        s[0], ", ", s[1], ")"));
  }
  const auto& q = options.ratio;
  if (!(q[0] > 0.0) || !(q[0] <= q[1]) || !std::isfinite(q[1])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "augment options: ratio must satisfy 0 < ratio[0] <= ratio[1] < inf, "
        "got (",
        q[0], ", ", q[1], ")"));
  }
  const std::pair<const char*, float> jitter[] = {
      {"brightness", options.brightness},
      {"contrast", options.contrast},
      {"saturation", options.saturation}};
  for (const auto& [field, value] : jitter) {
    if (!(value >= 0.0f) || !std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("augment options: ", field,
                       " must be a finite number >= 0, got ", value));
    }
  }
  return absl::OkStatus();
}

cv::Rect RandomResizedCropRect(cv::Size size, const AugmentOptions& options,
                               std::mt19937_64* rng) {
  const int width = size.width;
  const int height = size.height;
  const double area = static_cast<double>(width) * height;
  const double image_ratio = static_cast<double>(width) / height;
  const double base = options.ratio_relative_to_image ? image_ratio : 1.0;
  const double log_lo = std::log(options.ratio[0]);
  const double log_hi = std::log(options.ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area =
        area * Uniform(rng, options.scale[0], options.scale[1]);
    const double aspect = base * std::exp(Uniform(rng, log_lo, log_hi));
    const int w =
        static_cast<int>(RoundHalfEven(std::sqrt(target_area * aspect)));
    const int h =
        static_cast<int>(RoundHalfEven(std::sqrt(target_area / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int top = static_cast<int>(UniformInt(rng, height - h + 1));
      const int left = static_cast<int>(UniformInt(rng, width - w + 1));
      return cv::Rect(left, top, w, h);
    }
  }
  // Fallback: the largest centred crop with an aspect ratio in range.
  const double lo = base * options.ratio[0];
  const double hi = base * options.ratio[1];
  int w = width;
  int h = height;
  if (image_ratio < lo) {
    h = static_cast<int>(RoundHalfEven(w / lo));
  } else if (image_ratio > hi) {
    w = static_cast<int>(RoundHalfEven(h * hi));
  }
  w = std::clamp(w, 1, width);
  h = std::clamp(h, 1, height);
  return cv::Rect((width - w) / 2, (height - h) / 2, w, h);
}

absl::StatusOr<cv::Mat> AugmentImage(const cv::Mat& rgb,
                                     const PreprocessOptions& options,
                                     const AugmentOptions& augment,
                                     std::mt19937_64* rng) {
  RETURN_IF_ERROR(CheckRgb(rgb, "AugmentImage"));
  RETURN_IF_ERROR(ValidatePreprocessOptions(options));
  RETURN_IF_ERROR(ValidateAugmentOptions(augment));
  const cv::Rect crop = RandomResizedCropRect(rgb.size(), augment, rng);
  cv::Mat region = rgb(crop);
  const bool flip = augment.horizontal_flip && UniformInt(rng, 2) == 1;
  const bool jitter = augment.brightness > 0.0f || augment.contrast > 0.0f ||
                      augment.saturation > 0.0f;
  if (flip) {
    cv::Mat flipped;
    cv::flip(region, flipped, 1);
    region = flipped;
  }
  if (jitter) {
    // The crop may still share pixels with the caller's image.
    if (!flip) region = region.clone();
    ColourJitter(augment, rng, &region);
  }
  return ResizeAndCrop(region, options);
}

absl::Status PreprocessFileForTraining(const std::string& path,
                                       const PreprocessOptions& options,
                                       const AugmentOptions& augment,
                                       std::mt19937_64* rng, float* out) {
  RETURN_IF_ERROR(ValidatePreprocessOptions(options));
  RETURN_IF_ERROR(ValidateAugmentOptions(augment));
  ASSIGN_OR_RETURN(const cv::Mat rgb,
                   DecodeImageFile(path, options.max_pixels));
  ASSIGN_OR_RETURN(const cv::Mat square,
                   AugmentImage(rgb, options, augment, rng));
  return NormalizeToCHW(square, options, out);
}

}  // namespace clip
