#include "clip/tokenizer.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "clip/text_clean.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace clip {
namespace {

constexpr char kEndOfWord[] = "</w>";
constexpr char kSot[] = "<|startoftext|>";
constexpr char kEot[] = "<|endoftext|>";
constexpr char kMergesHeader[] = "#version: 0.2\n";
// Largest id accepted from vocab.json (guards the id -> token table).
constexpr int64_t kMaxVocabId = (int64_t{1} << 24) - 1;

// OpenAI's bytes_to_unicode(): every byte gets a printable code point; the
// printable Latin-1 bytes keep their own, the others get U+0100 onwards.
// order[i] is the byte of base id i.
struct ByteAlphabet {
  int order[256];
  std::string utf8[256];   // byte -> its character, UTF-8
  int16_t byte_of[0x144];  // code point -> byte, -1 if none

  ByteAlphabet() {
    std::fill(std::begin(byte_of), std::end(byte_of), int16_t{-1});
    char32_t code[256];
    bool printable[256] = {};
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      printable[b] = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
                     (b >= 0xAE && b <= 0xFF);
      if (printable[b]) {
        order[n++] = b;
        code[b] = static_cast<char32_t>(b);
      }
    }
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      if (!printable[b]) {
        order[n++] = b;
        code[b] = static_cast<char32_t>(256 + extra++);
      }
    }
    for (int b = 0; b < 256; ++b) {
      utf8[b] = EncodeUtf8(std::u32string(1, code[b]));
      byte_of[code[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& Alphabet() {
  static const ByteAlphabet* alphabet = new ByteAlphabet();
  return *alphabet;
}

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
         static_cast<uint32_t>(right);
}

// The OpenAI vocabulary for `merges`: bytes, bytes + "</w>", merges, SOT, EOT.
std::vector<std::string> OpenAiVocab(
    const std::vector<std::pair<std::string, std::string>>& merges) {
  const ByteAlphabet& alphabet = Alphabet();
  std::vector<std::string> vocab;
  vocab.reserve(512 + merges.size() + 2);
  for (int i = 0; i < 256; ++i)
    vocab.push_back(alphabet.utf8[alphabet.order[i]]);
  for (int i = 0; i < 256; ++i) {
    vocab.push_back(absl::StrCat(alphabet.utf8[alphabet.order[i]], kEndOfWord));
  }
  for (const auto& merge : merges) {
    vocab.push_back(absl::StrCat(merge.first, merge.second));
  }
  vocab.push_back(kSot);
  vocab.push_back(kEot);
  return vocab;
}

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

std::vector<int32_t> MergeWord(const std::vector<int32_t>& word, int32_t left,
                               int32_t right, int32_t merged) {
  std::vector<int32_t> out;
  out.reserve(word.size());
  for (size_t i = 0; i < word.size();) {
    if (i + 1 < word.size() && word[i] == left && word[i + 1] == right) {
      out.push_back(merged);
      i += 2;
    } else {
      out.push_back(word[i]);
      ++i;
    }
  }
  return out;
}

}  // namespace

absl::Status BpeTokenizer::Finish(const std::string& vocab_source,
                                  const std::string& merges_source,
                                  const std::vector<int>& merge_lines) {
  const ByteAlphabet& alphabet = Alphabet();
  token_to_id_.clear();
  token_to_id_.reserve(id_to_token_.size());
  id_to_bytes_.assign(id_to_token_.size(), std::string());
  for (size_t id = 0; id < id_to_token_.size(); ++id) {
    const std::string& token = id_to_token_[id];
    if (token.empty()) continue;
    token_to_id_[token] = static_cast<int32_t>(id);
    std::string& bytes = id_to_bytes_[id];
    for (char32_t c : DecodeUtf8(token)) {
      if (c >= 0x144 || alphabet.byte_of[c] < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(vocab_source, ": token \"", token, "\" (id ", id,
                         ") has a character outside the byte-level alphabet"));
      }
      bytes.push_back(static_cast<char>(alphabet.byte_of[c]));
    }
  }
  for (int b = 0; b < 256; ++b) {
    for (bool end_of_word : {false, true}) {
      std::string token = alphabet.utf8[b];
      if (end_of_word) token += kEndOfWord;
      auto it = token_to_id_.find(token);
      if (it == token_to_id_.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            vocab_source, ": vocabulary lacks the byte token \"", token, "\""));
      }
      (end_of_word ? byte_end_id_ : byte_id_)[b] = it->second;
    }
  }
  merge_table_.clear();
  merge_table_.reserve(merges_.size());
  for (size_t rank = 0; rank < merges_.size(); ++rank) {
    const auto& merge = merges_[rank];
    const int line = rank < merge_lines.size() ? merge_lines[rank]
                                               : static_cast<int>(rank) + 1;
    int32_t ids[3];
    const std::string parts[3] = {merge.first, merge.second,
                                  merge.first + merge.second};
    for (int k = 0; k < 3; ++k) {
      auto it = token_to_id_.find(parts[k]);
      if (it == token_to_id_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(merges_source, ":", line, ": ",
                         k < 2 ? "merge symbol" : "merge result", " \"",
                         parts[k], "\" is not in the vocabulary"));
      }
      ids[k] = it->second;
    }
    // As in OpenAI's dict(zip(merges, range(...))), a repeated pair keeps its
    // last rank.
    merge_table_[PairKey(ids[0], ids[1])] =
        Merge{static_cast<int32_t>(rank), ids[2]};
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromMerges(
    std::vector<std::pair<std::string, std::string>> merges,
    const BpeTokenizerOptions& options) {
  std::unique_ptr<BpeTokenizer> tokenizer(new BpeTokenizer());
  tokenizer->options_ = options;
  tokenizer->id_to_token_ = OpenAiVocab(merges);
  tokenizer->merges_ = std::move(merges);
  tokenizer->sot_id_ = static_cast<int32_t>(tokenizer->id_to_token_.size() - 2);
  tokenizer->eot_id_ = static_cast<int32_t>(tokenizer->id_to_token_.size() - 1);
  RETURN_IF_ERROR(tokenizer->Finish("merges", "merges", {}));
  return tokenizer;
}

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

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Train(
    const std::vector<std::string>& corpus, const BpeTrainOptions& train,
    const BpeTokenizerOptions& options) {
  if ((train.num_merges > 0) == (train.vocab_size > 0)) {
    return absl::InvalidArgumentError(
        "BpeTrainOptions: set exactly one of num_merges and vocab_size");
  }
  int target = train.num_merges;
  if (train.vocab_size > 0) {
    target = train.vocab_size - 514;
    if (target <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "BpeTrainOptions: vocab_size ", train.vocab_size,
          " leaves no room for merges (512 byte tokens + 2 special tokens)"));
    }
  }
  if (train.min_pair_count < 1) {
    return absl::InvalidArgumentError(
        "BpeTrainOptions: min_pair_count must be at least 1");
  }

  // Word frequencies, in a fixed order.
  std::map<std::string, int64_t> word_counts;
  for (const std::string& text : corpus) {
    const std::string cleaned = CleanText(text);
    for (absl::string_view piece : PreTokenize(cleaned)) {
      if (piece == kSot || piece == kEot) continue;
      ++word_counts[std::string(piece)];
    }
  }

  const ByteAlphabet& alphabet = Alphabet();
  std::vector<std::string> tokens = OpenAiVocab({});
  tokens.resize(512);  // without the special tokens while training
  absl::flat_hash_map<std::string, int32_t> token_index;
  for (size_t i = 0; i < tokens.size(); ++i) {
    token_index[tokens[i]] = static_cast<int32_t>(i);
  }
  int32_t base_id[256];
  for (int i = 0; i < 256; ++i) base_id[alphabet.order[i]] = i;

  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> freq;
  words.reserve(word_counts.size());
  for (const auto& [word, count] : word_counts) {
    std::vector<int32_t> symbols;
    for (size_t i = 0; i < word.size(); ++i) {
      int32_t id = base_id[static_cast<unsigned char>(word[i])];
      symbols.push_back(i + 1 == word.size() ? id + 256 : id);
    }
    words.push_back(std::move(symbols));
    freq.push_back(count);
  }

  struct Entry {
    int64_t count;
    int32_t left;
    int32_t right;
  };
  auto less = [&tokens](const Entry& x, const Entry& y) {
    if (x.count != y.count) return x.count > y.count;
    if (int c = tokens[x.left].compare(tokens[y.left]); c != 0) return c < 0;
    if (int c = tokens[x.right].compare(tokens[y.right]); c != 0) return c < 0;
    return std::make_pair(x.left, x.right) < std::make_pair(y.left, y.right);
  };
  std::set<Entry, decltype(less)> ranking(less);
  absl::flat_hash_map<uint64_t, int64_t> pair_count;
  absl::flat_hash_map<uint64_t, std::vector<int32_t>> pair_words;
  for (size_t w = 0; w < words.size(); ++w) {
    const auto& symbols = words[w];
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const uint64_t key = PairKey(symbols[i], symbols[i + 1]);
      pair_count[key] += freq[w];
      auto& list = pair_words[key];
      if (list.empty() || list.back() != static_cast<int32_t>(w)) {
        list.push_back(static_cast<int32_t>(w));
      }
    }
  }
  for (const auto& [key, count] : pair_count) {
    ranking.insert(Entry{count, static_cast<int32_t>(key >> 32),
                         static_cast<int32_t>(key & 0xFFFFFFFFu)});
  }

  std::vector<std::pair<std::string, std::string>> merges;
  while (static_cast<int>(merges.size()) < target) {
    const Entry* chosen = nullptr;
    for (const Entry& entry : ranking) {
      if (entry.count < train.min_pair_count) break;
      if (token_index.contains(tokens[entry.left] + tokens[entry.right])) {
        continue;
      }
      chosen = &entry;
      break;
    }
    if (chosen == nullptr) break;
    const int32_t left = chosen->left;
    const int32_t right = chosen->right;
    const int32_t merged = static_cast<int32_t>(tokens.size());
    tokens.push_back(tokens[left] + tokens[right]);
    token_index[tokens.back()] = merged;
    merges.emplace_back(tokens[left], tokens[right]);

    std::vector<int32_t> affected = std::move(pair_words[PairKey(left, right)]);
    pair_words.erase(PairKey(left, right));
    std::sort(affected.begin(), affected.end());
    affected.erase(std::unique(affected.begin(), affected.end()),
                   affected.end());
    std::map<uint64_t, int64_t> delta;
    for (int32_t w : affected) {
      std::vector<int32_t> updated = MergeWord(words[w], left, right, merged);
      if (updated == words[w]) continue;
      for (size_t i = 0; i + 1 < words[w].size(); ++i) {
        delta[PairKey(words[w][i], words[w][i + 1])] -= freq[w];
      }
      for (size_t i = 0; i + 1 < updated.size(); ++i) {
        const uint64_t key = PairKey(updated[i], updated[i + 1]);
        delta[key] += freq[w];
        if (updated[i] == merged || updated[i + 1] == merged) {
          auto& list = pair_words[key];
          if (list.empty() || list.back() != w) list.push_back(w);
        }
      }
      words[w] = std::move(updated);
    }
    for (const auto& [key, change] : delta) {
      if (change == 0) continue;
      const int32_t l = static_cast<int32_t>(key >> 32);
      const int32_t r = static_cast<int32_t>(key & 0xFFFFFFFFu);
      int64_t& count = pair_count[key];
      if (count > 0) ranking.erase(Entry{count, l, r});
      count += change;
      if (count > 0) {
        ranking.insert(Entry{count, l, r});
      } else {
        pair_count.erase(key);
      }
    }
  }
  return FromMerges(std::move(merges), options);
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

std::vector<int32_t> BpeTokenizer::BpePiece(absl::string_view piece) const {
  std::vector<int32_t> word;
  word.reserve(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) {
    const unsigned char b = static_cast<unsigned char>(piece[i]);
    word.push_back(i + 1 == piece.size() ? byte_end_id_[b] : byte_id_[b]);
  }
  while (word.size() > 1) {
    int32_t best_rank = INT32_MAX;
    const Merge* best = nullptr;
    int32_t left = 0, right = 0;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = merge_table_.find(PairKey(word[i], word[i + 1]));
      if (it != merge_table_.end() && it->second.rank < best_rank) {
        best_rank = it->second.rank;
        best = &it->second;
        left = word[i];
        right = word[i + 1];
      }
    }
    if (best == nullptr) break;
    word = MergeWord(word, left, right, best->result);
  }
  return word;
}

void BpeTokenizer::EncodePiece(absl::string_view piece,
                               std::vector<int32_t>* out) const {
  if (piece == kSot) {
    out->push_back(sot_id_);
    return;
  }
  if (piece == kEot) {
    out->push_back(eot_id_);
    return;
  }
  const size_t capacity = options_.cache_capacity;
  if (capacity == 0) {
    std::vector<int32_t> ids = BpePiece(piece);
    out->insert(out->end(), ids.begin(), ids.end());
    return;
  }
  const std::string key(piece);
  {
    absl::MutexLock lock(&cache_mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
    auto old = old_cache_.find(key);
    if (old != old_cache_.end()) {
      out->insert(out->end(), old->second.begin(), old->second.end());
      cache_.emplace(key, std::move(old->second));
      old_cache_.erase(old);
      return;
    }
  }
  std::vector<int32_t> ids = BpePiece(piece);
  out->insert(out->end(), ids.begin(), ids.end());
  absl::MutexLock lock(&cache_mutex_);
  const size_t half = std::max<size_t>(1, capacity / 2);
  if (cache_.size() >= half) {
    old_cache_ = std::move(cache_);
    cache_.clear();
  }
  cache_.emplace(key, std::move(ids));
}

std::vector<int32_t> BpeTokenizer::Encode(absl::string_view text) const {
  const std::string cleaned = CleanText(text);
  std::vector<int32_t> ids;
  for (absl::string_view piece : PreTokenize(cleaned)) {
    EncodePiece(piece, &ids);
  }
  return ids;
}

std::vector<int64_t> BpeTokenizer::Tokenize(absl::string_view text,
                                            int context_length) const {
  if (context_length <= 0) return {};
  std::vector<int32_t> ids = Encode(text);
  std::vector<int64_t> row(static_cast<size_t>(context_length), 0);
  size_t n = 0;
  row[n++] = sot_id_;
  for (int32_t id : ids) {
    if (n == row.size()) break;
    row[n++] = id;
  }
  if (n < row.size()) {
    row[n] = eot_id_;
  } else {
    row.back() = eot_id_;  // truncated (or exactly full): last is EOT
  }
  return row;
}

std::vector<int64_t> BpeTokenizer::TokenizeBatch(
    absl::Span<const std::string> texts, int context_length) const {
  std::vector<int64_t> out;
  if (context_length <= 0) return out;
  out.reserve(texts.size() * static_cast<size_t>(context_length));
  for (const std::string& text : texts) {
    std::vector<int64_t> row = Tokenize(text, context_length);
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

template <typename Id>
absl::StatusOr<std::string> BpeTokenizer::DecodeIds(
    absl::Span<const Id> ids) const {
  std::string bytes;
  for (Id id : ids) {
    if (id < 0 || static_cast<uint64_t>(id) >= id_to_token_.size() ||
        id_to_token_[static_cast<size_t>(id)].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " is not in the vocabulary (size ",
                       id_to_token_.size(), ")"));
    }
    bytes += id_to_bytes_[static_cast<size_t>(id)];
  }
  return absl::StrReplaceAll(EncodeUtf8(DecodeUtf8(bytes)),
                             {{kEndOfWord, " "}});
}

absl::StatusOr<std::string> BpeTokenizer::Decode(
    absl::Span<const int32_t> ids) const {
  return DecodeIds(ids);
}

absl::StatusOr<std::string> BpeTokenizer::Decode(
    absl::Span<const int64_t> ids) const {
  return DecodeIds(ids);
}

const std::string& BpeTokenizer::token(int32_t id) const {
  static const std::string* empty = new std::string();
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return *empty;
  return id_to_token_[static_cast<size_t>(id)];
}

int32_t BpeTokenizer::token_id(absl::string_view token) const {
  auto it = token_to_id_.find(token);
  return it == token_to_id_.end() ? -1 : it->second;
}

}  // namespace clip
