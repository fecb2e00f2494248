// BpeTokenizer::Train: learning merges from a corpus.
//
// Every distinct word of the corpus is a sequence of symbol ids, weighted by
// how often the word occurs. The counts of adjacent pairs are kept in a
// ranking (highest count first, ties by the pair's bytes); each step takes
// the best pair whose concatenation is not yet a token, adds the merged
// token, rewrites the words that hold the pair and updates the counts of the
// pairs those words gained and lost.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "clip/text_clean.h"
#include "clip/tokenizer.h"
#include "clip/tokenizer_internal.h"
#include "common/status_macros.h"

namespace clip {
namespace {

using tokenizer_internal::Alphabet;
using tokenizer_internal::ByteAlphabet;
using tokenizer_internal::kEot;
using tokenizer_internal::kSot;
using tokenizer_internal::MergeWord;
using tokenizer_internal::OpenAiVocab;
using tokenizer_internal::PairKey;

using MergeList = std::vector<std::pair<std::string, std::string>>;

// The number of merges `train` asks for; INVALID_ARGUMENT for bad options.
absl::StatusOr<int> MergeTarget(const BpeTrainOptions& train) {
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
  return target;
}

// Word frequencies, in a fixed order. Special-token pieces are not counted.
std::map<std::string, int64_t> CountWords(
    const std::vector<std::string>& corpus) {
  std::map<std::string, int64_t> word_counts;
  for (const std::string& text : corpus) {
    const std::string cleaned = CleanText(text);
    for (absl::string_view piece : PreTokenize(cleaned)) {
      if (piece == kSot || piece == kEot) continue;
      ++word_counts[std::string(piece)];
    }
  }
  return word_counts;
}

// A pair of adjacent symbols with its weighted count.
struct PairEntry {
  int64_t count;
  int32_t left;
  int32_t right;
};

// The ranking's order: higher count first, then the lexicographically
// smallest (left, right) by token bytes, then by ids.
class PairOrder {
 public:
  explicit PairOrder(const std::vector<std::string>* tokens)
      : tokens_(tokens) {}
  bool operator()(const PairEntry& x, const PairEntry& y) const {
    const std::vector<std::string>& tokens = *tokens_;
    if (x.count != y.count) return x.count > y.count;
    if (int c = tokens[x.left].compare(tokens[y.left]); c != 0) return c < 0;
    if (int c = tokens[x.right].compare(tokens[y.right]); c != 0) return c < 0;
    return std::make_pair(x.left, x.right) < std::make_pair(y.left, y.right);
  }

 private:
  const std::vector<std::string>* tokens_;
};

class BpeTrainer {
 public:
  explicit BpeTrainer(const std::map<std::string, int64_t>& word_counts)
      : ranking_(PairOrder(&tokens_)) {
    InitTokens();
    InitWords(word_counts);
    CountPairs();
  }

  // Learns up to `target` merges of pairs that occur at least
  // `min_pair_count` times, in rank order.
  MergeList Learn(int target, int64_t min_pair_count) {
    MergeList merges;
    while (static_cast<int>(merges.size()) < target) {
      const PairEntry* chosen = NextPair(min_pair_count);
      if (chosen == nullptr) break;
      const int32_t left = chosen->left;
      const int32_t right = chosen->right;
      merges.emplace_back(tokens_[left], tokens_[right]);
      Merge(left, right);
    }
    return merges;
  }

 private:
  // The 512 byte tokens, without the special tokens.
  void InitTokens() {
    tokens_ = OpenAiVocab({});
    tokens_.resize(512);
    for (size_t i = 0; i < tokens_.size(); ++i) {
      token_index_[tokens_[i]] = static_cast<int32_t>(i);
    }
  }

  // Each word as byte ids, its last byte with "</w>".
  void InitWords(const std::map<std::string, int64_t>& word_counts) {
    const ByteAlphabet& alphabet = Alphabet();
    int32_t base_id[256];
    for (int i = 0; i < 256; ++i) base_id[alphabet.order[i]] = i;
    words_.reserve(word_counts.size());
    for (const auto& [word, count] : word_counts) {
      std::vector<int32_t> symbols;
      for (size_t i = 0; i < word.size(); ++i) {
        int32_t id = base_id[static_cast<unsigned char>(word[i])];
        symbols.push_back(i + 1 == word.size() ? id + 256 : id);
      }
      words_.push_back(std::move(symbols));
      freq_.push_back(count);
    }
  }

  // The count of every adjacent pair, the words holding it, the ranking.
  void CountPairs() {
    for (size_t w = 0; w < words_.size(); ++w) {
      const auto& symbols = words_[w];
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        const uint64_t key = PairKey(symbols[i], symbols[i + 1]);
        pair_count_[key] += freq_[w];
        auto& list = pair_words_[key];
        if (list.empty() || list.back() != static_cast<int32_t>(w)) {
          list.push_back(static_cast<int32_t>(w));
        }
      }
    }
    for (const auto& [key, count] : pair_count_) {
      ranking_.insert(PairEntry{count, static_cast<int32_t>(key >> 32),
                                static_cast<int32_t>(key & 0xFFFFFFFFu)});
    }
  }

  // The best pair occurring at least `min_pair_count` times whose
  // concatenation is not a token yet, or null.
  const PairEntry* NextPair(int64_t min_pair_count) const {
    for (const PairEntry& entry : ranking_) {
      if (entry.count < min_pair_count) break;
      if (token_index_.contains(tokens_[entry.left] + tokens_[entry.right])) {
        continue;
      }
      return &entry;
    }
    return nullptr;
  }

  // Adds the token left + right and rewrites every word that holds the pair.
  void Merge(int32_t left, int32_t right) {
    const int32_t merged = static_cast<int32_t>(tokens_.size());
    tokens_.push_back(tokens_[left] + tokens_[right]);
    token_index_[tokens_.back()] = merged;

    std::vector<int32_t> affected =
        std::move(pair_words_[PairKey(left, right)]);
    pair_words_.erase(PairKey(left, right));
    std::sort(affected.begin(), affected.end());
    affected.erase(std::unique(affected.begin(), affected.end()),
                   affected.end());
    std::map<uint64_t, int64_t> delta;
    for (int32_t w : affected) RewriteWord(w, left, right, merged, &delta);
    ApplyDelta(delta);
  }

  // Merges (left, right) in word `w`, adding the change of each pair's count
  // to `delta` and recording the words that hold pairs with `merged`.
  void RewriteWord(int32_t w, int32_t left, int32_t right, int32_t merged,
                   std::map<uint64_t, int64_t>* delta) {
    std::vector<int32_t> updated = MergeWord(words_[w], left, right, merged);
    if (updated == words_[w]) return;
    for (size_t i = 0; i + 1 < words_[w].size(); ++i) {
      (*delta)[PairKey(words_[w][i], words_[w][i + 1])] -= freq_[w];
    }
    for (size_t i = 0; i + 1 < updated.size(); ++i) {
      const uint64_t key = PairKey(updated[i], updated[i + 1]);
      (*delta)[key] += freq_[w];
      if (updated[i] == merged || updated[i + 1] == merged) {
        auto& list = pair_words_[key];
        if (list.empty() || list.back() != w) list.push_back(w);
      }
    }
    words_[w] = std::move(updated);
  }

  // Moves each changed pair to its new place in the ranking; pairs whose
  // count drops to zero leave it.
  void ApplyDelta(const std::map<uint64_t, int64_t>& delta) {
    for (const auto& [key, change] : delta) {
      if (change == 0) continue;
      const int32_t l = static_cast<int32_t>(key >> 32);
      const int32_t r = static_cast<int32_t>(key & 0xFFFFFFFFu);
      int64_t& count = pair_count_[key];
      if (count > 0) ranking_.erase(PairEntry{count, l, r});
      count += change;
      if (count > 0) {
        ranking_.insert(PairEntry{count, l, r});
      } else {
        pair_count_.erase(key);
      }
    }
  }

  std::vector<std::string> tokens_;  // id -> token, grows with each merge
  absl::flat_hash_map<std::string, int32_t> token_index_;
  std::vector<std::vector<int32_t>> words_;  // each distinct word's symbols
  std::vector<int64_t> freq_;                // each word's count
  std::set<PairEntry, PairOrder> ranking_;
  absl::flat_hash_map<uint64_t, int64_t> pair_count_;
  absl::flat_hash_map<uint64_t, std::vector<int32_t>> pair_words_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Train(
    const std::vector<std::string>& corpus, const BpeTrainOptions& train,
    const BpeTokenizerOptions& options) {
  ASSIGN_OR_RETURN(const int target, MergeTarget(train));
  BpeTrainer trainer(CountWords(corpus));
  return FromMerges(trainer.Learn(target, train.min_pair_count), options);
}

}  // namespace clip
