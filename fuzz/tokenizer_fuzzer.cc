// Fuzzes CLIP's BPE tokenizer (clip/tokenizer.h) with a vocabulary trained
// at start-up on a few captions (no data files needed).
//
// Invariants: every id of Encode is inside the vocabulary; Tokenize returns
// kContextLength ids starting with SOT and holding EOT; Decode of Encode
// succeeds and, for text without '<' (special tokens), equals the cleaned
// text's pieces each followed by a space.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "clip/text_clean.h"
#include "clip/tokenizer.h"
#include "fuzz/fuzz_check.h"

namespace {

const clip::BpeTokenizer& Tokenizer() {
  static const clip::BpeTokenizer* tokenizer = [] {
    const std::vector<std::string> corpus = {
        "A white Audi driving on the road.",
        "This is a black sedan with a sunroof.",
        "A woman in a long coat carrying a handbag, seen from the back.",
        "A man under 18 wearing glasses and a short-sleeved shirt.",
        "Ein grünes Auto; 行人 on the street, ½ price, café crème.",
    };
    clip::BpeTrainOptions train;
    train.num_merges = 200;
    train.min_pair_count = 1;
    auto trained = clip::BpeTokenizer::Train(corpus, train);
    FUZZ_CHECK(trained.ok()) << trained.status();
    return trained->release();
  }();
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const clip::BpeTokenizer& tok = Tokenizer();
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<int32_t> ids = tok.Encode(text);
  for (int32_t id : ids) {
    FUZZ_CHECK(id >= 0 && id < tok.vocab_size()) << id;
  }
  const std::vector<int64_t> context = tok.Tokenize(text);
  FUZZ_CHECK(context.size() == static_cast<size_t>(clip::kContextLength))
      << context.size();
  FUZZ_CHECK(context[0] == tok.sot_id());
  bool has_eot = false;
  for (int64_t id : context) {
    FUZZ_CHECK(id >= 0 && id < tok.vocab_size()) << id;
    has_eot = has_eot || id == tok.eot_id();
  }
  FUZZ_CHECK(has_eot);
  auto decoded = tok.Decode(ids);
  FUZZ_CHECK(decoded.ok()) << decoded.status();
  const std::string cleaned = clip::CleanText(text);
  if (cleaned.find('<') == std::string::npos) {
    std::string expected;
    for (absl::string_view piece : clip::PreTokenize(cleaned)) {
      expected.append(piece.data(), piece.size());
      expected += ' ';
    }
    FUZZ_CHECK(*decoded == expected)
        << fuzz::Escaped(*decoded) << " vs " << fuzz::Escaped(expected);
  }
  return 0;
}
