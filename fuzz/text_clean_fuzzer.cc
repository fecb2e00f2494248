// Fuzzes the text cleaner and pre-tokenizer (clip/text_clean.h).
//
// Invariants: DecodeUtf8 + EncodeUtf8 returns valid UTF-8 input unchanged
// and turns any input into valid UTF-8; FixText, HtmlUnescape,
// ToLowerUnicode and CleanText return valid UTF-8; CollapseWhitespace is
// idempotent; CleanText has no surrounding or doubled ASCII space; the
// PreTokenize pieces are non-empty, ordered, non-overlapping views into the
// cleaned text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "clip/text_clean.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string round_trip = clip::EncodeUtf8(clip::DecodeUtf8(text));
  FUZZ_CHECK(fuzz::IsWellFormedUtf8(round_trip)) << fuzz::Escaped(round_trip);
  if (fuzz::IsWellFormedUtf8(text)) {
    FUZZ_CHECK(round_trip == text) << fuzz::Escaped(round_trip);
  } else {
    FUZZ_CHECK(round_trip != text);
  }
  const std::string fixed = clip::FixText(text);
  FUZZ_CHECK(fuzz::IsWellFormedUtf8(fixed)) << fuzz::Escaped(fixed);
  const std::string unescaped = clip::HtmlUnescape(text);
  FUZZ_CHECK(fuzz::IsWellFormedUtf8(unescaped)) << fuzz::Escaped(unescaped);
  const std::string lower = clip::ToLowerUnicode(text);
  FUZZ_CHECK(fuzz::IsWellFormedUtf8(lower)) << fuzz::Escaped(lower);
  const std::string collapsed = clip::CollapseWhitespace(text);
  FUZZ_CHECK(clip::CollapseWhitespace(collapsed) == collapsed)
      << fuzz::Escaped(collapsed);

  const std::string cleaned = clip::CleanText(text);
  FUZZ_CHECK(fuzz::IsWellFormedUtf8(cleaned)) << fuzz::Escaped(cleaned);
  FUZZ_CHECK(!absl::StartsWith(cleaned, " ") && !absl::EndsWith(cleaned, " ") &&
             !absl::StrContains(cleaned, "  "))
      << fuzz::Escaped(cleaned);
  const char* end = cleaned.data();
  for (absl::string_view piece : clip::PreTokenize(cleaned)) {
    FUZZ_CHECK(!piece.empty());
    FUZZ_CHECK(piece.data() >= end &&
               piece.data() + piece.size() <= cleaned.data() + cleaned.size())
        << fuzz::Escaped(cleaned);
    FUZZ_CHECK(piece.find(' ') == absl::string_view::npos)
        << fuzz::Escaped(piece);
    end = piece.data() + piece.size();
  }
  return 0;
}
