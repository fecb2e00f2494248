// Reading and writing the tokenizer's file formats: OpenAI's gzip merges
// file and Hugging Face's vocab.json + merges.txt.
#include "clip/tokenizer.h"

#include <zlib.h>

#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clip/text_clean.h"
#include "clip/tokenizer_internal.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace clip {
namespace {

using tokenizer_internal::kEot;
using tokenizer_internal::kMergesHeader;
using tokenizer_internal::kSot;
using tokenizer_internal::OpenAiVocab;

// Largest id accepted from vocab.json (guards the id -> token table).
constexpr int64_t kMaxVocabId = (int64_t{1} << 24) - 1;

// Inflates a whole gzip file (several members allowed, trailing zero bytes
// ignored). DATA_LOSS naming `path` for anything else.
absl::StatusOr<std::string> Gunzip(const std::string& compressed,
                                   const std::string& path) {
  auto is_gzip = [&](size_t at) {
    return compressed.size() >= at + 2 &&
           static_cast<unsigned char>(compressed[at]) == 0x1F &&
           static_cast<unsigned char>(compressed[at + 1]) == 0x8B;
  };
  if (!is_gzip(0)) {
    return absl::DataLossError(
        absl::StrCat(path, ": not a gzip file (bad magic bytes)"));
  }
  z_stream stream = {};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) {
    return absl::InternalError(absl::StrCat(path, ": inflateInit2 failed"));
  }
  stream.next_in =
      reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buffer[1 << 16];
  while (true) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    int rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (rc == Z_STREAM_END) {
      size_t at = compressed.size() - stream.avail_in;
      while (at < compressed.size() && compressed[at] == '\0') ++at;
      if (at == compressed.size()) break;
      if (!is_gzip(at)) {
        inflateEnd(&stream);
        return absl::DataLossError(absl::StrCat(
            path, ": unexpected data after the gzip stream at byte ", at));
      }
      stream.next_in =
          reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data() + at));
      stream.avail_in = static_cast<uInt>(compressed.size() - at);
      inflateReset(&stream);
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && stream.avail_in == 0) {
      inflateEnd(&stream);
      return absl::DataLossError(absl::StrCat(path, ": truncated gzip stream"));
    }
    std::string message = stream.msg != nullptr ? stream.msg : "error";
    inflateEnd(&stream);
    return absl::DataLossError(
        absl::StrCat(path, ": corrupt gzip stream (", message, ")"));
  }
  inflateEnd(&stream);
  return out;
}

absl::StatusOr<std::string> Gzip(absl::string_view data) {
  z_stream stream = {};
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&stream, static_cast<uLong>(data.size())) + 64);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&stream, Z_FINISH);
  out.resize(out.size() - stream.avail_out);
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) return absl::InternalError("deflate failed");
  return out;
}

// Parses "left right" (whitespace-separated, exactly two symbols).
absl::Status ParseMergeLine(
    absl::string_view line, const std::string& source, int line_number,
    std::vector<std::pair<std::string, std::string>>* merges) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
  if (parts.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ":", line_number,
        ": expected a merge of two space-separated symbols, got \"", line,
        "\""));
  }
  merges->emplace_back(std::string(parts[0]), std::string(parts[1]));
  return absl::OkStatus();
}

// Splits merges text into lines; `first_line` is the 1-based number of the
// first line that holds merges. A final empty line (trailing newline) is
// ignored; `limit` < 0 reads all lines.
absl::Status ParseMerges(
    absl::string_view text, const std::string& source, int first_line,
    int limit, std::vector<std::pair<std::string, std::string>>* merges,
    std::vector<int>* line_numbers) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (size_t i = static_cast<size_t>(first_line - 1); i < lines.size(); ++i) {
    if (limit >= 0 && merges->size() >= static_cast<size_t>(limit)) break;
    absl::string_view line = lines[i];
    if (line.empty() && i + 1 == lines.size()) break;
    const int line_number = static_cast<int>(i) + 1;
    RETURN_IF_ERROR(ParseMergeLine(line, source, line_number, merges));
    line_numbers->push_back(line_number);
  }
  return absl::OkStatus();
}

// Line number of the first invalid UTF-8 byte, or 0 if the text is valid.
int FirstInvalidUtf8Line(absl::string_view text) {
  if (EncodeUtf8(DecodeUtf8(text)) == text) return 0;
  int line = 1;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == absl::string_view::npos) end = text.size();
    absl::string_view piece = text.substr(start, end - start);
    if (EncodeUtf8(DecodeUtf8(piece)) != piece) return line;
    ++line;
    start = end + 1;
  }
  return line;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::LoadOpenAi(
    const std::string& bpe_gz_path, const BpeTokenizerOptions& options) {
  ASSIGN_OR_RETURN(std::string compressed, common::ReadFile(bpe_gz_path));
  ASSIGN_OR_RETURN(std::string text, Gunzip(compressed, bpe_gz_path));
  if (text.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(bpe_gz_path, ": empty merges file (no header line)"));
  }
  if (int line = FirstInvalidUtf8Line(text); line != 0) {
    return absl::DataLossError(
        absl::StrCat(bpe_gz_path, ":", line, ": not valid UTF-8"));
  }
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<int> lines;
  RETURN_IF_ERROR(ParseMerges(text, bpe_gz_path, /*first_line=*/2,
                              options.max_merges, &merges, &lines));
  std::unique_ptr<BpeTokenizer> tokenizer(new BpeTokenizer());
  tokenizer->options_ = options;
  tokenizer->id_to_token_ = OpenAiVocab(merges);
  tokenizer->merges_ = std::move(merges);
  tokenizer->sot_id_ = static_cast<int32_t>(tokenizer->id_to_token_.size() - 2);
  tokenizer->eot_id_ = static_cast<int32_t>(tokenizer->id_to_token_.size() - 1);
  RETURN_IF_ERROR(tokenizer->Finish(bpe_gz_path, bpe_gz_path, lines));
  return tokenizer;
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::LoadHuggingFace(
    const std::string& vocab_json_path, const std::string& merges_txt_path,
    const BpeTokenizerOptions& options) {
  ASSIGN_OR_RETURN(std::string vocab_text, common::ReadFile(vocab_json_path));
  ASSIGN_OR_RETURN(std::string merges_text, common::ReadFile(merges_txt_path));
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(vocab_text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(vocab_json_path, ": not valid JSON: ", e.what()));
  }
  if (!vocab.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        vocab_json_path, ": expected a JSON object {\"token\": id, ...}"));
  }
  std::unique_ptr<BpeTokenizer> tokenizer(new BpeTokenizer());
  tokenizer->options_ = options;
  std::vector<std::string>& id_to_token = tokenizer->id_to_token_;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const nlohmann::json& value = it.value();
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() > kMaxVocabId) {
      return absl::InvalidArgumentError(absl::StrCat(
          vocab_json_path, ": token \"", it.key(), "\" has id ", value.dump(),
          ", expected an integer in [0, ", kMaxVocabId, "]"));
    }
    if (it.key().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(vocab_json_path, ": empty token string"));
    }
    const size_t id = static_cast<size_t>(value.get<int64_t>());
    if (id >= id_to_token.size()) id_to_token.resize(id + 1);
    if (!id_to_token[id].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(vocab_json_path, ": id ", id, " is used by both \"",
                       id_to_token[id], "\" and \"", it.key(), "\""));
    }
    id_to_token[id] = it.key();
  }
  for (const char* special : {kSot, kEot}) {
    if (!vocab.contains(special)) {
      return absl::InvalidArgumentError(absl::StrCat(
          vocab_json_path, ": vocabulary lacks the special token ", special));
    }
  }
  tokenizer->sot_id_ = vocab[kSot].get<int32_t>();
  tokenizer->eot_id_ = vocab[kEot].get<int32_t>();

  if (int line = FirstInvalidUtf8Line(merges_text); line != 0) {
    return absl::DataLossError(
        absl::StrCat(merges_txt_path, ":", line, ": not valid UTF-8"));
  }
  const int first_line = absl::StartsWith(merges_text, "#version") ? 2 : 1;
  std::vector<int> lines;
  RETURN_IF_ERROR(ParseMerges(merges_text, merges_txt_path, first_line,
                              /*limit=*/-1, &tokenizer->merges_, &lines));
  RETURN_IF_ERROR(tokenizer->Finish(vocab_json_path, merges_txt_path, lines));
  return tokenizer;
}

bool BpeTokenizer::IsOpenAiLayout() const {
  return id_to_token_ == OpenAiVocab(merges_) &&
         sot_id_ == static_cast<int32_t>(id_to_token_.size() - 2) &&
         eot_id_ == static_cast<int32_t>(id_to_token_.size() - 1);
}

absl::Status BpeTokenizer::SaveOpenAi(const std::string& bpe_gz_path) const {
  if (!IsOpenAiLayout()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot save ", bpe_gz_path,
        " in the OpenAI format: the token ids are not in the OpenAI layout "
        "(bytes, bytes+</w>, merges, SOT, EOT); save the Hugging Face files"));
  }
  std::string text = kMergesHeader;
  for (const auto& merge : merges_) {
    absl::StrAppend(&text, merge.first, " ", merge.second, "\n");
  }
  ASSIGN_OR_RETURN(std::string compressed, Gzip(text));
  return common::WriteFileAtomically(bpe_gz_path, compressed);
}

absl::Status BpeTokenizer::SaveHuggingFace(
    const std::string& vocab_json_path,
    const std::string& merges_txt_path) const {
  // Written by hand in id order: nlohmann's ordered_json inserts in linear
  // time per key.
  std::string vocab = "{";
  for (size_t id = 0; id < id_to_token_.size(); ++id) {
    const std::string& token = id_to_token_[id];
    // A repeated token string keeps only the id that Encode uses.
    if (token.empty() || token_to_id_.at(token) != static_cast<int32_t>(id)) {
      continue;
    }
    absl::StrAppend(&vocab, vocab.size() > 1 ? "," : "",
                    nlohmann::json(token).dump(), ":", id);
  }
  vocab += "}";
  std::string merges = kMergesHeader;
  for (const auto& merge : merges_) {
    absl::StrAppend(&merges, merge.first, " ", merge.second, "\n");
  }
  RETURN_IF_ERROR(common::WriteFileAtomically(vocab_json_path, vocab));
  return common::WriteFileAtomically(merges_txt_path, merges);
}

}  // namespace clip
