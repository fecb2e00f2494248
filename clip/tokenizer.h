// CLIP's byte-level BPE tokenizer (OpenAI clip/simple_tokenizer.py), without
// LibTorch.
//
// Text goes through CleanText and PreTokenize (clip/text_clean.h); each piece's
// UTF-8 bytes become one symbol per byte, the last one carrying the "</w>"
// end-of-word mark, and merges are applied lowest rank first, every
// non-overlapping occurrence left to right, until none applies.
//
// Vocabulary layout of the OpenAI format (bpe_simple_vocab_16e6.txt.gz, a gzip
// file with one header line, then one merge "left right" per line): ids 0-255
// are the 256 byte symbols in the order of OpenAI's bytes_to_unicode, 256-511
// the same with "</w>", then one id per merge in rank order, then
// <|startoftext|> and <|endoftext|>. With OpenAI's file and the default of
// 48,894 merges that is 49,408 ids, SOT 49406, EOT 49407. The Hugging Face
// format (vocab.json mapping token -> id, merges.txt) carries its own ids.
//
// Thread safety: a loaded BpeTokenizer is immutable apart from its internal,
// mutex-protected cache of per-piece BPE results; every const method may be
// called from many threads at once.
#ifndef CLIP_TOKENIZER_H_
#define CLIP_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/mutex.h"

namespace clip {

// Merges of OpenAI's file that CLIP uses (49152 - 256 - 2).
inline constexpr int kOpenAiNumMerges = 48894;
// CLIP's text context length.
inline constexpr int kContextLength = 77;

struct BpeTokenizerOptions {
  // OpenAI format only: use at most this many merges from the file (the rest
  // of the file is not read); negative means all of them.
  int max_merges = kOpenAiNumMerges;
  // Entries kept in the per-piece BPE cache; 0 disables it. When the cache is
  // full the older half is dropped (two generations, roughly LRU).
  size_t cache_capacity = 1 << 16;
};

struct BpeTrainOptions {
  // Exactly one of the two must be positive. vocab_size counts the 512 byte
  // symbols and the two special tokens: vocab_size = 512 + merges + 2.
  int num_merges = 0;
  int vocab_size = 0;
  // A pair is merged only if it occurs at least this often (weighted by how
  // often its word occurs); training stops early when no pair qualifies.
  int64_t min_pair_count = 2;
};

class BpeTokenizer {
 public:
  // Loads OpenAI's gzip merges file. NOT_FOUND for a missing file, DATA_LOSS
  // for a corrupt or truncated gzip stream or text that is not UTF-8,
  // INVALID_ARGUMENT naming file and line for a malformed merge line.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadOpenAi(
      const std::string& bpe_gz_path,
      const BpeTokenizerOptions& options = BpeTokenizerOptions());

  // Loads Hugging Face files: vocab.json ({"token": id, ...} with every byte
  // symbol, every merge result, "<|startoftext|>" and "<|endoftext|>") and
  // merges.txt (optional "#version" first line, then "left right" lines; all
  // merges are used). NOT_FOUND for a missing file; INVALID_ARGUMENT naming
  // the file (and line for merges.txt) for bad JSON, non-integer or duplicate
  // ids, missing tokens, or malformed merge lines.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadHuggingFace(
      const std::string& vocab_json_path, const std::string& merges_txt_path,
      const BpeTokenizerOptions& options = BpeTokenizerOptions());

  // Builds a tokenizer in the OpenAI layout from merges in rank order.
  // INVALID_ARGUMENT if a merge names a symbol that is not in the vocabulary.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> FromMerges(
      std::vector<std::pair<std::string, std::string>> merges,
      const BpeTokenizerOptions& options = BpeTokenizerOptions());

  // Learns merges from a corpus (each text cleaned and pre-tokenized as in
  // Encode; special-token pieces are not counted). Each step merges the pair
  // with the highest count; ties go to the lexicographically smallest
  // (left, right) by bytes. Pairs whose concatenation is already a token are
  // skipped. The result uses the OpenAI layout, so it can be saved in both
  // formats. INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> Train(
      const std::vector<std::string>& corpus, const BpeTrainOptions& train,
      const BpeTokenizerOptions& options = BpeTokenizerOptions());

  BpeTokenizer(const BpeTokenizer&) = delete;
  BpeTokenizer& operator=(const BpeTokenizer&) = delete;

  // Writes the OpenAI gzip format ("#version: 0.2" header, then the merges),
  // atomically. FAILED_PRECONDITION if the ids are not in the OpenAI layout
  // (e.g. a Hugging Face vocabulary with other ids).
  absl::Status SaveOpenAi(const std::string& bpe_gz_path) const;

  // Writes vocab.json (every token with its id, in id order) and merges.txt,
  // each atomically.
  absl::Status SaveHuggingFace(const std::string& vocab_json_path,
                               const std::string& merges_txt_path) const;

  // Token ids of `text` without SOT/EOT. A literal "<|startoftext|>" or
  // "<|endoftext|>" in the text becomes the special id, as in OpenAI's code.
  std::vector<int32_t> Encode(absl::string_view text) const;

  // clip.tokenize(text, context_length, truncate=True) for one text: returns
  // exactly `context_length` ids, [SOT, ids..., EOT, 0, ...]; when too long it
  // keeps the first context_length ids and sets the last one to EOT. Returns
  // an empty vector when context_length <= 0.
  std::vector<int64_t> Tokenize(absl::string_view text,
                                int context_length = kContextLength) const;

  // Tokenize for each text: row-major [texts.size(), context_length] int64.
  std::vector<int64_t> TokenizeBatch(absl::Span<const std::string> texts,
                                     int context_length = kContextLength) const;

  // OpenAI's decode: concatenates the tokens' bytes, decodes UTF-8 (invalid
  // sequences become U+FFFD) and turns every "</w>" into a space, so each
  // pre-tokenized piece is followed by a space. Special ids decode to their
  // literal text and id 0 to "!": strip SOT/EOT/padding first.
  // INVALID_ARGUMENT for an id that is not in the vocabulary.
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids) const;
  absl::StatusOr<std::string> Decode(absl::Span<const int64_t> ids) const;

  // Number of ids (one more than the largest id).
  int vocab_size() const { return static_cast<int>(id_to_token_.size()); }
  int32_t sot_id() const { return sot_id_; }
  int32_t eot_id() const { return eot_id_; }
  int num_merges() const { return static_cast<int>(merges_.size()); }
  // The merges in rank order, as (left, right) token strings.
  const std::vector<std::pair<std::string, std::string>>& merges() const {
    return merges_;
  }
  // The token string of an id in the byte-to-unicode alphabet (e.g. "a</w>"),
  // or "" for an id outside the vocabulary.
  const std::string& token(int32_t id) const;
  // The id of a token string, or -1.
  int32_t token_id(absl::string_view token) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };

  BpeTokenizer() = default;

  // Fills the tables from id_to_token_, merges_ and the special ids. Errors
  // name `vocab_source` for bad tokens and `merges_source` with the line of
  // merge i (merge_lines[i], else i + 1) for bad merges.
  absl::Status Finish(const std::string& vocab_source,
                      const std::string& merges_source,
                      const std::vector<int>& merge_lines);
  bool IsOpenAiLayout() const;
  std::vector<int32_t> BpePiece(absl::string_view piece) const;
  void EncodePiece(absl::string_view piece, std::vector<int32_t>* out) const;
  template <typename Id>
  absl::StatusOr<std::string> DecodeIds(absl::Span<const Id> ids) const;

  BpeTokenizerOptions options_;
  std::vector<std::string> id_to_token_;  // "" where an id is unused
  std::vector<std::string> id_to_bytes_;  // the raw bytes each id stands for
  absl::flat_hash_map<std::string, int32_t> token_to_id_;
  std::vector<std::pair<std::string, std::string>> merges_;  // in rank order
  absl::flat_hash_map<uint64_t, Merge> merge_table_;  // (left, right) ids
  int32_t byte_id_[256] = {};
  int32_t byte_end_id_[256] = {};  // the byte with "</w>"
  int32_t sot_id_ = -1;
  int32_t eot_id_ = -1;

  mutable common::Mutex cache_mutex_;
  mutable absl::flat_hash_map<std::string, std::vector<int32_t>> cache_
      ABSL_GUARDED_BY(cache_mutex_);
  mutable absl::flat_hash_map<std::string, std::vector<int32_t>> old_cache_
      ABSL_GUARDED_BY(cache_mutex_);
};

}  // namespace clip

#endif  // CLIP_TOKENIZER_H_
