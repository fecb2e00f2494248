// The tokenizer's core: the tables built from a vocabulary and merges, BPE
// on one piece with its cache, Encode/Tokenize and Decode. Loading and saving
// the file formats is in tokenizer_files.cc, training in tokenizer_train.cc.
#include "clip/tokenizer.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "clip/text_clean.h"
#include "clip/tokenizer_internal.h"
#include "common/mutex.h"
#include "common/status_macros.h"

namespace clip {
namespace tokenizer_internal {

ByteAlphabet::ByteAlphabet() {
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

const ByteAlphabet& Alphabet() {
  static const ByteAlphabet* alphabet = new ByteAlphabet();
  return *alphabet;
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

}  // namespace tokenizer_internal

using tokenizer_internal::Alphabet;
using tokenizer_internal::ByteAlphabet;
using tokenizer_internal::kEndOfWord;
using tokenizer_internal::kEot;
using tokenizer_internal::kSot;
using tokenizer_internal::MergeWord;
using tokenizer_internal::OpenAiVocab;
using tokenizer_internal::PairKey;

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
    common::MutexLock lock(&cache_mutex_);
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
  common::MutexLock lock(&cache_mutex_);
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
