// Text normalisation and pre-tokenisation in front of CLIP's byte-level BPE.
//
// CleanText reproduces the string that OpenAI's SimpleTokenizer feeds to its
// regex (clip/simple_tokenizer.py):
//   ftfy.fix_text -> html.unescape twice -> strip -> collapse \s+ -> strip
//   -> str.lower()
// and PreTokenize applies that regex,
//   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|
//   [^\s\p{L}\p{N}]+   (case-insensitive)
// implemented by hand over ICU character properties.
//
// FixText is a reimplementation of the parts of ftfy 6.x `fix_text` that
// matter for captions, applied per line and repeated until nothing changes:
// HTML entity decoding (only when the line and the lines before it have no
// '<'), mojibake repair for UTF-8 that was decoded as Latin-1 or
// Windows-1252 ("cafÃ©" -> "café", also nested and embedded in otherwise good
// text), C1 controls read as Windows-1252, Latin ligatures ("ﬁ" -> "fi"),
// fullwidth/halfwidth forms and U+3000, curly quotes, line breaks, ANSI
// terminal escapes, control characters, NFC. It does not carry ftfy's full
// statistical "badness" model or its Cyrillic/Greek/Central-European/MacRoman
// code pages: mojibake is recognised only as well-formed UTF-8 sequences
// spelled in Latin-1/Windows-1252 characters.
//
// Input that is not valid UTF-8 is decoded with U+FFFD for each maximal
// invalid subsequence (Python's errors="replace"). All functions are pure and
// thread-safe; they return UTF-8.
#ifndef CLIP_TEXT_CLEAN_H_
#define CLIP_TEXT_CLEAN_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace clip {

// UTF-8 <-> code points. DecodeUtf8 replaces invalid input as described above.
std::u32string DecodeUtf8(absl::string_view utf8);
std::string EncodeUtf8(std::u32string_view text);

// ftfy.fix_text with its default configuration (see the file comment).
std::string FixText(absl::string_view text);

// Python's html.unescape: numeric references (&#65; &#x41;, with or without
// ';', Windows-1252 remapping of 0x80-0x9F, U+FFFD for 0, surrogates and out
// of range values, dropped non-characters) and named references from the HTML
// 4.01 set plus &apos;, including the legacy names decoded without ';'
// (&ampx -> &x). Other HTML5-only names are left as they are.
std::string HtmlUnescape(absl::string_view text);

// re.sub(r"\s+", " ", text).strip() with Unicode whitespace (incl. NBSP).
std::string CollapseWhitespace(absl::string_view text);

// Python's str.lower(): full Unicode lower-case mapping, final sigma included.
std::string ToLowerUnicode(absl::string_view text);

// The whole normalisation: FixText, HtmlUnescape twice, whitespace collapse
// and strip, lower-case.
std::string CleanText(absl::string_view text);

// Splits already-cleaned text into the regex's matches, in order. The views
// point into `cleaned`, which must outlive them. Whitespace is dropped.
std::vector<absl::string_view> PreTokenize(absl::string_view cleaned);

}  // namespace clip

#endif  // CLIP_TEXT_CLEAN_H_
