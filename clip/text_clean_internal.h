// Pieces shared by the files of the text_clean library: code points, the
// single-byte code pages, UTF-8 decoding, ICU helpers, html.unescape and
// ftfy's fixers on UTF-32 text. Not part of the library's API
// (clip/text_clean.h is).
//
// text_clean_unicode.cc: code pages, UTF-8, ICU helpers.
// text_clean_html.cc:    the entity tables and html.unescape.
// text_clean_fixers.cc:  ftfy's fixers (FixTextU32).
// text_clean.cc:         the public functions and the pre-tokenizer.
#ifndef CLIP_TEXT_CLEAN_INTERNAL_H_
#define CLIP_TEXT_CLEAN_INTERNAL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "unicode/normalizer2.h"
#include "unicode/uchar.h"
#include "unicode/unistr.h"

namespace clip {
namespace text_clean_internal {

using U32 = std::u32string;

inline constexpr char32_t kReplacementChar = 0xFFFD;

// ---------------------------------------------------------------------------
// Single-byte code pages (text_clean_unicode.cc).

// Windows-1252 for bytes 0x80-0x9F. The five unassigned bytes keep their C1
// code point, as in ftfy's "sloppy" codec and Python's html module.
inline constexpr char32_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

bool IsCp1252Unassigned(int byte);

// The byte `c` decodes from in Latin-1 or (sloppy) Windows-1252; -1 if none.
int SingleByteOf(char32_t c);

enum class Charmap { kLatin1, kSloppyCp1252 };

// `text` encoded in `charmap`; false if a character has no byte there.
bool EncodeCharmap(const U32& text, Charmap charmap, std::string* bytes);

// ---------------------------------------------------------------------------
// UTF-8 (text_clean_unicode.cc).

// Decodes one code point at `*pos`. Returns -1 for an invalid sequence, after
// advancing `*pos` past its maximal subpart (at least one byte).
int32_t NextCodePoint(absl::string_view s, size_t* pos);

// Decodes `s`; false if it is not valid UTF-8.
bool DecodeUtf8Strict(absl::string_view s, U32* out);

bool IsAscii(const U32& text);

inline bool IsAsciiAlnum(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z');
}

inline bool IsAsciiDigit(char32_t c) { return c >= '0' && c <= '9'; }

inline bool IsAsciiHexDigit(char32_t c) {
  return IsAsciiDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

inline int HexValue(char32_t c) {
  if (c <= '9') return static_cast<int>(c - '0');
  if (c >= 'a') return static_cast<int>(c - 'a' + 10);
  return static_cast<int>(c - 'A' + 10);
}

// ---------------------------------------------------------------------------
// ICU helpers (text_clean_unicode.cc).

U32 FromIcu(const icu::UnicodeString& s);

// ICU's NFKC normaliser, or null if ICU cannot provide it.
const icu::Normalizer2* NfkcInstance();

// `text` in NFC.
U32 Nfc(const U32& text);

// Python's str.isspace() / the regex module's \s on the text at hand.
inline bool IsSpace(UChar32 c) {
  return u_isUWhiteSpace(c) || (c >= 0x1C && c <= 0x1F);
}

inline bool IsLetter(UChar32 c) {
  return (U_GET_GC_MASK(c) & U_GC_L_MASK) != 0;
}
inline bool IsNumber(UChar32 c) {
  return (U_GET_GC_MASK(c) & U_GC_N_MASK) != 0;
}

// ---------------------------------------------------------------------------
// html.unescape (text_clean_html.cc).

// Returns the ASCII string for code points [begin, end), or false when one of
// them is not ASCII (entity names are ASCII).
bool AsciiName(const U32& text, size_t begin, size_t end, std::string* out);

// The value of a named reference that the ftfy-style fixer decodes: the
// names of HtmlUnescape's table, always with a semicolon, plus upper-case
// spellings of lower-case names (&EACUTE;) mapped to the upper-cased
// character. `name` includes the ';'. Null if unknown.
const char32_t* LookupFixerEntity(std::string_view name);

// HtmlUnescape (clip/text_clean.h) on code points.
U32 HtmlUnescapeU32(const U32& text);

// ---------------------------------------------------------------------------
// ftfy's fixers (text_clean_fixers.cc).

// FixText (clip/text_clean.h) on code points.
U32 FixTextU32(const U32& text);

}  // namespace text_clean_internal
}  // namespace clip

#endif  // CLIP_TEXT_CLEAN_INTERNAL_H_
