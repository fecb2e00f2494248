#include "clip/encoder.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clip/model.h"
#include "clip/weights.h"
#include "common/status_macros.h"

namespace clip {
namespace fs = std::filesystem;

struct ClipEncoder::Impl {
  ClipModel model{nullptr};
  torch::Device device{torch::kCPU};
};

absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadTokenizer(
    const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "bpe_vocab.txt.gz", ec)) {
      return BpeTokenizer::LoadOpenAi((fs::path(path) / "bpe_vocab.txt.gz").string());
    }
    if (fs::exists(fs::path(path) / "vocab.json", ec)) {
      return BpeTokenizer::LoadHuggingFace(
          (fs::path(path) / "vocab.json").string(),
          (fs::path(path) / "merges.txt").string());
    }
    return absl::NotFoundError(absl::StrCat(
        "no tokenizer in ", path, " (expected bpe_vocab.txt.gz or vocab.json + merges.txt)"));
  }
  if (absl::EndsWith(path, ".json")) {
    return BpeTokenizer::LoadHuggingFace(
        path, (fs::path(path).parent_path() / "merges.txt").string());
  }
  return BpeTokenizer::LoadOpenAi(path);
}

ClipEncoder::ClipEncoder(std::unique_ptr<Impl> impl,
                         std::unique_ptr<BpeTokenizer> tokenizer,
                         EncoderOptions options)
    : impl_(std::move(impl)),
      tokenizer_(std::move(tokenizer)),
      options_(std::move(options)) {}

ClipEncoder::~ClipEncoder() = default;

absl::StatusOr<std::unique_ptr<ClipEncoder>> ClipEncoder::Load(
    const std::string& weights_path, const std::string& tokenizer_path,
    const EncoderOptions& options) {
  if (options.max_batch_size < 1) {
    return absl::InvalidArgumentError("max_batch_size must be >= 1");
  }
  auto impl = std::make_unique<Impl>();
  try {
    impl->device = torch::Device(options.device);
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid device '", options.device, "'"));
  }
  if (impl->device.is_cuda() && !torch::cuda::is_available()) {
    return absl::UnavailableError(absl::StrCat(
        "device '", options.device, "' requested but this build has no CUDA"));
  }
  ASSIGN_OR_RETURN(impl->model, LoadClipModel(weights_path));
  impl->model->to(impl->device);
  ASSIGN_OR_RETURN(std::unique_ptr<BpeTokenizer> tokenizer,
                   LoadTokenizer(tokenizer_path));
  if (tokenizer->vocab_size() > impl->model->config().vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer ", tokenizer_path, " has ", tokenizer->vocab_size(),
        " ids but the model ", weights_path, " embeds only ",
        impl->model->config().vocab_size));
  }
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
  auto impl = std::make_unique<Impl>();
  torch::manual_seed(seed);
  impl->model = ClipModel(config);
  impl->model->eval();
  return std::unique_ptr<ClipEncoder>(
      new ClipEncoder(std::move(impl), std::move(tokenizer), options));
}

const ClipConfig& ClipEncoder::config() const { return impl_->model->config(); }

std::string ClipEncoder::device() const { return impl_->device.str(); }

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

template <typename F>
absl::StatusOr<std::vector<float>> CatchTorch(F&& f) {
  try {
    return f();
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("model failed: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("model failed: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<std::vector<float>> ClipEncoder::EncodeTokens(
    absl::Span<const int64_t> tokens, int64_t n) const {
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
        if (m >= kMinChunk && next * (m + 1) > kMaxPadding * (sum + next)) break;
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
      torch::Tensor emb = impl_->model->EncodeText(batch.to(impl_->device));
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
  const int64_t n = static_cast<int64_t>(texts.size());
  std::vector<int64_t> tokens = tokenizer_->TokenizeBatch(
      texts, static_cast<int>(config().context_length));
  return CatchTorch([&]() -> std::vector<float> {
    c10::InferenceMode guard;
    torch::Tensor t = torch::from_blob(tokens.data(),
                                       {n, config().context_length},
                                       torch::kInt64);
    return ToVector(impl_->model->EncodeText(t.to(impl_->device)));
  });
}

absl::StatusOr<std::vector<float>> ClipEncoder::EncodeImages(
    absl::Span<const float> pixels, int64_t n, bool normalize) const {
  const int64_t r = config().image_resolution;
  if (n < 0 || static_cast<int64_t>(pixels.size()) != n * 3 * r * r) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pixels hold ", pixels.size(), " floats, expected ", n, " x 3 x ", r,
        " x ", r));
  }
  return CatchTorch([&]() -> std::vector<float> {
    c10::InferenceMode guard;
    std::vector<torch::Tensor> parts;
    for (int64_t start = 0; start < n; start += options_.max_batch_size) {
      const int64_t m = std::min<int64_t>(options_.max_batch_size, n - start);
      torch::Tensor x = torch::from_blob(
          const_cast<float*>(pixels.data()) + start * 3 * r * r, {m, 3, r, r},
          torch::kFloat32);
      torch::Tensor emb = impl_->model->EncodeImage(x.to(impl_->device));
      if (normalize) emb = emb / emb.norm(2, -1, true);
      parts.push_back(emb.cpu());
    }
    if (parts.empty()) return {};
    return ToVector(torch::cat(parts, 0));
  });
}

}  // namespace clip
