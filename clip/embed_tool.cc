#include "clip/embed_tool.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clip/encoder.h"
#include "clip/safetensors.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "nlohmann/json.hpp"

namespace clip {
namespace fs = std::filesystem;
namespace {

bool IsImageFile(const fs::path& p) {
  std::string ext = absl::AsciiStrToLower(p.extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" ||
         ext == ".webp";
}

template <typename T>
absl::string_view Bytes(const std::vector<T>& v) {
  return absl::string_view(reinterpret_cast<const char*>(v.data()),
                           v.size() * sizeof(T));
}

// Tokenizer beside the weights: bpe_vocab.txt.gz or vocab.json + merges.txt.
std::string DefaultVocab(const std::string& weights) {
  return fs::path(weights).parent_path().string();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ReadTextsFile(
    const std::string& path) {
  ASSIGN_OR_RETURN(std::string content, common::ReadFile(path));
  std::vector<std::string> lines = absl::StrSplit(content, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (size_t i = 0; i < lines.size(); ++i) {
    if (absl::Status utf8 = common::ValidateUtf8(lines[i]); !utf8.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", i + 1, ": not valid UTF-8 (", utf8.message(), ")"));
    }
  }
  if (!absl::EndsWith(path, ".jsonl")) {
    for (auto& l : lines) {
      if (!l.empty() && l.back() == '\r') l.pop_back();
    }
    return lines;
  }
  std::vector<std::string> texts;
  for (size_t i = 0; i < lines.size(); ++i) {
    nlohmann::json j = nlohmann::json::parse(lines[i], nullptr, false);
    if (j.is_discarded() || !j.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", i + 1, ": expected one JSON string per line"));
    }
    texts.push_back(j.get<std::string>());
  }
  return texts;
}

absl::StatusOr<std::vector<std::string>> ListImages(
    const std::string& dir_or_list) {
  std::error_code ec;
  std::vector<std::string> out;
  if (fs::is_directory(dir_or_list, ec)) {
    for (const auto& e : fs::directory_iterator(dir_or_list, ec)) {
      if (e.is_regular_file(ec) && IsImageFile(e.path())) {
        out.push_back(e.path().string());
      }
    }
    std::sort(out.begin(), out.end());
    if (out.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("no images (.jpg, .png, .bmp, .webp) in ", dir_or_list));
    }
    return out;
  }
  ASSIGN_OR_RETURN(std::string content, common::ReadFile(dir_or_list));
  const fs::path base = fs::path(dir_or_list).parent_path();
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    fs::path p{std::string(line)};
    out.push_back(p.is_absolute() ? p.string() : (base / p).string());
  }
  return out;
}

absl::Status ValidateEmbedToolOptions(const EmbedToolOptions& options) {
  if (options.weights.empty() || options.output.empty()) {
    return absl::InvalidArgumentError("--weights and --output are required");
  }
  if (options.texts.empty() && options.images.empty()) {
    return absl::InvalidArgumentError("give --texts, --images or both");
  }
  return absl::OkStatus();
}

absl::Status RunEmbedTool(const EmbedToolOptions& options) {
  RETURN_IF_ERROR(ValidateEmbedToolOptions(options));
  // Inputs first, so that their errors come before the model is loaded.
  std::vector<std::string> texts;
  if (!options.texts.empty()) {
    ASSIGN_OR_RETURN(texts, ReadTextsFile(options.texts));
    if (texts.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("texts file ", options.texts, " holds no texts"));
    }
  }
  std::vector<std::string> paths;
  if (!options.images.empty()) {
    ASSIGN_OR_RETURN(paths, ListImages(options.images));
    if (paths.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("image list ", options.images, " names no images"));
    }
  }
  EncoderOptions enc;
  enc.max_batch_size = options.batch_size;
  enc.precision = options.precision;
  ASSIGN_OR_RETURN(
      auto encoder,
      ClipEncoder::Load(
          options.weights,
          options.vocab.empty() ? DefaultVocab(options.weights) : options.vocab,
          enc));
  const int64_t dim = encoder->embed_dim();
  const int64_t ctx = encoder->config().context_length;
  const int64_t res = encoder->config().image_resolution;
  SafetensorsWriter writer;
  if (!options.texts.empty()) {
    const int64_t m = static_cast<int64_t>(texts.size());
    std::vector<int64_t> tokens =
        encoder->tokenizer().TokenizeBatch(texts, static_cast<int>(ctx));
    ASSIGN_OR_RETURN(std::vector<float> embeds, encoder->EncodeTextsRaw(texts));
    RETURN_IF_ERROR(
        writer.Add("text_tokens", DType::kI64, {m, ctx}, Bytes(tokens)));
    RETURN_IF_ERROR(
        writer.Add("text_embeds", DType::kF32, {m, dim}, Bytes(embeds)));
  }
  if (!options.images.empty()) {
    const int64_t n = static_cast<int64_t>(paths.size());
    PreprocessOptions pre;
    pre.resolution = static_cast<int>(res);
    pre.mode = options.resize_mode;
    std::vector<float> pixels(n * 3 * res * res);
    for (int64_t i = 0; i < n; ++i) {
      RETURN_IF_ERROR(
          PreprocessFile(paths[i], pre, pixels.data() + i * 3 * res * res));
    }
    ASSIGN_OR_RETURN(std::vector<float> embeds,
                     encoder->EncodeImages(pixels, n, /*normalize=*/false));
    RETURN_IF_ERROR(writer.Add("image_input", DType::kF32, {n, 3, res, res},
                               Bytes(pixels)));
    RETURN_IF_ERROR(
        writer.Add("image_embeds", DType::kF32, {n, dim}, Bytes(embeds)));
    nlohmann::json names = paths;
    writer.SetMetadata("images", names.dump());
  }
  writer.SetMetadata("weights", options.weights);
  return writer.WriteFile(options.output);
}

}  // namespace clip
