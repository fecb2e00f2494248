#include "clip/encoder.h"

#include <glog/logging.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "clip/autocast.h"
#include "clip/fast_model.h"
#include "clip/model.h"
#include "clip/weights.h"
#include "common/status_macros.h"
#include "common/torch_status.h"

namespace clip {
namespace fs = std::filesystem;

struct ClipEncoder::Impl {
  // Exactly one of `model` (CUDA, or a CPU without oneDNN kernels) and
  // `fast` (the CPU path) is set once loaded.
  ClipModel model{nullptr};
  std::unique_ptr<FastClipModel> fast;
  ClipConfig config;
  torch::Device device{torch::kCPU};
  Precision requested = Precision::kFp32;
  Precision precision = Precision::kFp32;
  bool text = true, image = true;
  std::string path;  // for Describe()

  torch::Tensor EncodeText(const torch::Tensor& tokens) {
    TORCH_CHECK(text, "this encoder was loaded without its text tower");
    if (fast) return fast->EncodeText(tokens);
    AutocastGuard autocast(device.is_cuda(), precision);
    return model->EncodeText(tokens.to(device));
  }
  torch::Tensor EncodeImage(const torch::Tensor& images) {
    TORCH_CHECK(image, "this encoder was loaded without its image tower");
    if (fast) return fast->EncodeImage(images);
    AutocastGuard autocast(device.is_cuda(), precision);
    return model->EncodeImage(images.to(device));
  }

  // An empty Impl on the device of `options`, once the options that do not
  // depend on the model are checked.
  static absl::StatusOr<std::unique_ptr<Impl>> ForOptions(
      const EncoderOptions& options) {
    if (options.max_batch_size < 1) {
      return absl::InvalidArgumentError("max_batch_size must be >= 1");
    }
    if (!options.text_tower && !options.image_tower) {
      return absl::InvalidArgumentError(
          "an encoder needs the text or the image tower");
    }
    auto impl = std::make_unique<Impl>();
    try {
      impl->device = torch::Device(options.device);
    } catch (const c10::Error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid device '", options.device, "'"));
    }
    if (impl->device.is_cuda() && !torch::cuda::is_available()) {
      return absl::UnavailableError(
          absl::StrCat("device '", options.device,
                       "' requested but this build has no CUDA"));
    }
    return impl;
  }

  // Puts `model` on its device and precision: the oneDNN path on the CPU
  // (the torch model is then released), LibTorch's modules elsewhere.
  absl::Status Prepare(const EncoderOptions& options) {
    config = model->config();
    requested = options.precision;
    text = options.text_tower;
    image = options.image_tower && model->visual;
    ASSIGN_OR_RETURN(precision,
                     ResolvePrecision(options.precision, device.str()));
    if (device.is_cuda()) {
      model->to(device);
      return absl::OkStatus();
    }
    FastClipModel::Options fopts;
    fopts.precision = precision;
    fopts.text = text;
    fopts.vision = image;
    auto packed = FastClipModel::Create(*model, fopts);
    if (absl::IsUnimplemented(packed.status()) &&
        precision == Precision::kFp32) {
      // No JIT kernels for this CPU: LibTorch's own modules still work.
      LOG(WARNING) << "oneDNN path unavailable, using LibTorch modules: "
                   << packed.status();
      return absl::OkStatus();
    }
    if (!packed.ok()) {
      return absl::Status(
          packed.status().code(),
          absl::StrCat("precision ", PrecisionName(precision), " for ", path,
                       ": ", packed.status().message()));
    }
    fast = std::move(*packed);
    model = nullptr;
    return absl::OkStatus();
  }
};

absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadTokenizer(
    const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "bpe_vocab.txt.gz", ec)) {
      return BpeTokenizer::LoadOpenAi(
          (fs::path(path) / "bpe_vocab.txt.gz").string());
    }
    if (fs::exists(fs::path(path) / "vocab.json", ec)) {
      return BpeTokenizer::LoadHuggingFace(
          (fs::path(path) / "vocab.json").string(),
          (fs::path(path) / "merges.txt").string());
    }
    return absl::NotFoundError(absl::StrCat(
        "no tokenizer in ", path,
        " (expected bpe_vocab.txt.gz or vocab.json + merges.txt)"));
  }
  if (absl::EndsWith(path, ".json")) {
    return BpeTokenizer::LoadHuggingFace(
        path, (fs::path(path).parent_path() / "merges.txt").string());
  }
  return BpeTokenizer::LoadOpenAi(path);
}

ClipEncoder::ClipEncoder(std::unique_ptr<Impl> impl,
                         std::shared_ptr<const BpeTokenizer> tokenizer,
                         EncoderOptions options)
    : impl_(std::move(impl)),
      tokenizer_(std::move(tokenizer)),
      options_(std::move(options)) {}

ClipEncoder::~ClipEncoder() = default;

absl::StatusOr<std::unique_ptr<ClipEncoder>> ClipEncoder::Load(
    const std::string& weights_path, const std::string& tokenizer_path,
    const EncoderOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, Impl::ForOptions(options));
  ModelLoadOptions lopts;
  lopts.vision = options.image_tower;
  impl->path = weights_path;
  ASSIGN_OR_RETURN(impl->model, LoadClipModel(weights_path, lopts));
  ASSIGN_OR_RETURN(std::unique_ptr<BpeTokenizer> tokenizer,
                   LoadTokenizer(tokenizer_path));
  if (tokenizer->vocab_size() > impl->model->config().vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer ", tokenizer_path, " has ", tokenizer->vocab_size(),
        " ids but the model ", weights_path, " embeds only ",
        impl->model->config().vocab_size));
  }
  RETURN_IF_ERROR(impl->Prepare(options));
  return std::unique_ptr<ClipEncoder>(
      new ClipEncoder(std::move(impl), std::move(tokenizer), options));
}

absl::StatusOr<std::unique_ptr<ClipEncoder>> ClipEncoder::CreateRandom(
    const ClipConfig& config, std::unique_ptr<BpeTokenizer> tokenizer,
    uint64_t seed, const EncoderOptions& options) {
  RETURN_IF_ERROR(config.Validate());
  if (tokenizer == nullptr || tokenizer->vocab_size() > config.vocab_size) {
    return absl::InvalidArgumentError(
        "CreateRandom needs a tokenizer whose vocabulary fits the config");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, Impl::ForOptions(options));
  torch::manual_seed(seed);
  impl->model = ClipModel(config, options.image_tower);
  impl->model->eval();
  impl->path = "random weights";
  RETURN_IF_ERROR(impl->Prepare(options));
  return std::unique_ptr<ClipEncoder>(
      new ClipEncoder(std::move(impl), std::move(tokenizer), options));
}

absl::StatusOr<std::unique_ptr<ClipEncoder>> ClipEncoder::FromModel(
    const ClipModel& model, std::shared_ptr<const BpeTokenizer> tokenizer,
    const EncoderOptions& options) {
  if (tokenizer == nullptr ||
      tokenizer->vocab_size() > model->config().vocab_size) {
    return absl::InvalidArgumentError(
        "FromModel needs a tokenizer whose vocabulary fits the model");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, Impl::ForOptions(options));
  impl->model = model;
  impl->path = "an in-memory model";
  RETURN_IF_ERROR(impl->Prepare(options));
  return std::unique_ptr<ClipEncoder>(
      new ClipEncoder(std::move(impl), std::move(tokenizer), options));
}

const ClipConfig& ClipEncoder::config() const { return impl_->config; }

std::string ClipEncoder::device() const { return impl_->device.str(); }

Precision ClipEncoder::precision() const { return impl_->precision; }

std::string ClipEncoder::Describe() const {
  std::string towers = impl_->text && impl_->image ? "text and image towers"
                       : impl_->text               ? "text tower"
                                                   : "image tower";
  std::string path;
  if (impl_->fast) {
    path = absl::StrFormat("oneDNN packed GEMMs, %s, %.1f MB packed", towers,
                           impl_->fast->packed_bytes() / 1e6);
  } else {
    path = absl::StrCat("LibTorch modules, ", towers);
  }
  return absl::StrCat(device(), ", ",
                      DescribePrecision(impl_->requested, impl_->precision),
                      ", ", path);
}

int ClipEncoder::TokenLength(const std::string& text) const {
  std::vector<int64_t> row =
      tokenizer_->Tokenize(text, static_cast<int>(config().context_length));
  int64_t best = 0;
  for (size_t i = 1; i < row.size(); ++i) {
    if (row[i] > row[best]) best = static_cast<int64_t>(i);
  }
  return static_cast<int>(best + 1);
}

namespace {

// Text chunks: at least this many rows, then at most this much padding
// (positions computed / positions needed).
constexpr int64_t kMinChunk = 8;
constexpr double kMaxPadding = 1.15;

std::vector<float> ToVector(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kCPU, torch::kFloat32).contiguous();
  std::vector<float> out(c.numel());
  std::memcpy(out.data(), c.data_ptr<float>(), out.size() * sizeof(float));
  return out;
}

// An encoder that throws on a validated input is a bug or out of memory.
template <typename F>
absl::StatusOr<std::vector<float>> CatchTorch(F&& f) {
  return common::CatchTorchOr(absl::StatusCode::kInternal, "model failed",
                              std::forward<F>(f));
}

}  // namespace

absl::StatusOr<std::vector<float>> ClipEncoder::EncodeTokens(
    absl::Span<const int64_t> tokens, int64_t n) const {
  if (!impl_->text) {
    return absl::FailedPreconditionError(
        "this encoder was loaded without its text tower");
  }
  const int64_t ctx = config().context_length;
  if (n < 0 || static_cast<int64_t>(tokens.size()) != n * ctx) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokens hold ", tokens.size(), " ids, expected ", n, " x ", ctx));
  }
  const int64_t dim = embed_dim();
  std::vector<float> out(n * dim);
  if (n == 0) return out;
  // Group rows of similar length: sort by EOT position.
  std::vector<int64_t> eot(n), order(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t* row = tokens.data() + i * ctx;
    eot[i] = std::max_element(row, row + ctx) - row;
  }
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return eot[a] < eot[b]; });
  return CatchTorch([&]() -> std::vector<float> {
    c10::InferenceMode guard;
    for (int64_t start = 0, m = 0; start < n; start += m) {
      // Grow the chunk while padding to its longest row wastes little.
      int64_t sum = eot[order[start]] + 1;
      m = 1;
      while (start + m < n && m < options_.max_batch_size) {
        const int64_t next = eot[order[start + m]] + 1;
        if (m >= kMinChunk && next * (m + 1) > kMaxPadding * (sum + next))
          break;
        sum += next;
        ++m;
      }
      const int64_t len = eot[order[start + m - 1]] + 1;
      torch::Tensor batch = torch::empty({m, len}, torch::kInt64);
      int64_t* dst = batch.data_ptr<int64_t>();
      for (int64_t j = 0; j < m; ++j) {
        std::memcpy(dst + j * len, tokens.data() + order[start + j] * ctx,
                    len * sizeof(int64_t));
      }
      torch::Tensor emb = impl_->EncodeText(batch);
      emb = emb.to(torch::kFloat32);
      emb = emb / emb.norm(2, -1, true);
      std::vector<float> rows = ToVector(emb);
      for (int64_t j = 0; j < m; ++j) {
        std::memcpy(out.data() + order[start + j] * dim, rows.data() + j * dim,
                    dim * sizeof(float));
      }
    }
    return out;
  });
}

absl::StatusOr<std::vector<float>> ClipEncoder::EncodeTexts(
    absl::Span<const std::string> texts) const {
  std::vector<int64_t> tokens = tokenizer_->TokenizeBatch(
      texts, static_cast<int>(config().context_length));
  return EncodeTokens(tokens, static_cast<int64_t>(texts.size()));
}

absl::StatusOr<std::vector<float>> ClipEncoder::EncodeTextsRaw(
    absl::Span<const std::string> texts) const {
  if (!impl_->text) {
    return absl::FailedPreconditionError(
        "this encoder was loaded without its text tower");
  }
  const int64_t n = static_cast<int64_t>(texts.size());
  std::vector<int64_t> tokens = tokenizer_->TokenizeBatch(
      texts, static_cast<int>(config().context_length));
  return CatchTorch([&]() -> std::vector<float> {
    c10::InferenceMode guard;
    torch::Tensor t = torch::from_blob(
        tokens.data(), {n, config().context_length}, torch::kInt64);
    return ToVector(impl_->EncodeText(t));
  });
}

absl::StatusOr<std::vector<float>> ClipEncoder::EncodeImages(
    absl::Span<const float> pixels, int64_t n, bool normalize) const {
  if (!impl_->image) {
    return absl::FailedPreconditionError(
        "this encoder was loaded without its image tower");
  }
  const int64_t r = config().image_resolution;
  if (n < 0 || static_cast<int64_t>(pixels.size()) != n * 3 * r * r) {
    return absl::InvalidArgumentError(
        absl::StrCat("pixels hold ", pixels.size(), " floats, expected ", n,
                     " x 3 x ", r, " x ", r));
  }
  return CatchTorch([&]() -> std::vector<float> {
    c10::InferenceMode guard;
    std::vector<torch::Tensor> parts;
    for (int64_t start = 0; start < n; start += options_.max_batch_size) {
      const int64_t m = std::min<int64_t>(options_.max_batch_size, n - start);
      torch::Tensor x = torch::from_blob(
          const_cast<float*>(pixels.data()) + start * 3 * r * r, {m, 3, r, r},
          torch::kFloat32);
      torch::Tensor emb = impl_->EncodeImage(x);
      emb = emb.to(torch::kFloat32);
      if (normalize) emb = emb / emb.norm(2, -1, true);
      parts.push_back(emb.cpu());
    }
    if (parts.empty()) return {};
    return ToVector(torch::cat(parts, 0));
  });
}

}  // namespace clip
