// Pieces shared by the files of the tokenizer library (tokenizer.cc,
// tokenizer_files.cc, tokenizer_train.cc): the byte-level alphabet, the
// special strings and the OpenAI id layout. Not part of the library's API.
#ifndef CLIP_TOKENIZER_INTERNAL_H_
#define CLIP_TOKENIZER_INTERNAL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace clip {
namespace tokenizer_internal {

inline constexpr char kEndOfWord[] = "</w>";
inline constexpr char kSot[] = "<|startoftext|>";
inline constexpr char kEot[] = "<|endoftext|>";
inline constexpr char kMergesHeader[] = "#version: 0.2\n";

// OpenAI's bytes_to_unicode(): every byte gets a printable code point; the
// printable Latin-1 bytes keep their own, the others get U+0100 onwards.
// order[i] is the byte of base id i.
struct ByteAlphabet {
  int order[256];
  std::string utf8[256];   // byte -> its character, UTF-8
  int16_t byte_of[0x144];  // code point -> byte, -1 if none

  ByteAlphabet();
};

// The process-wide alphabet, built on first use.
const ByteAlphabet& Alphabet();

// The key of the adjacent pair (left, right) in the merge and pair tables.
inline uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
         static_cast<uint32_t>(right);
}

// The OpenAI vocabulary for `merges`: bytes, bytes + "</w>", merges, SOT, EOT.
std::vector<std::string> OpenAiVocab(
    const std::vector<std::pair<std::string, std::string>>& merges);

// `word` with every non-overlapping (left, right), left to right, replaced by
// `merged`.
std::vector<int32_t> MergeWord(const std::vector<int32_t>& word, int32_t left,
                               int32_t right, int32_t merged);

}  // namespace tokenizer_internal
}  // namespace clip

#endif  // CLIP_TOKENIZER_INTERNAL_H_
