// ftfy's fixers, applied per line until nothing changes (FixTextU32).
#include <cstdint>
#include <string>
#include <utility>

#include "clip/text_clean_internal.h"
#include "unicode/normalizer2.h"
#include "unicode/unistr.h"

namespace clip {
namespace text_clean_internal {
namespace {

// ftfy.fixes.unescape_html: "&#?[0-9A-Za-z]{1,24};" references only, named
// ones from LookupFixerEntity, numeric ones only when html.unescape consumes
// the whole reference.
U32 FixerUnescapeHtml(const U32& text) {
  if (text.find(U'&') == U32::npos) return text;
  U32 out;
  out.reserve(text.size());
  const size_t n = text.size();
  std::string name;
  size_t i = 0;
  while (i < n) {
    if (text[i] != U'&') {
      out.push_back(text[i++]);
      continue;
    }
    size_t j = i + 1;
    const bool numeric = j < n && text[j] == U'#';
    if (numeric) ++j;
    size_t k = j;
    while (k < n && k - j <= 24 && IsAsciiAlnum(text[k])) ++k;
    const size_t run = k - j;
    if (run < 1 || run > 24 || k >= n || text[k] != U';') {
      out.push_back(text[i++]);
      continue;
    }
    const size_t end = k + 1;
    const U32 match = text.substr(i, end - i);
    if (numeric) {
      U32 decoded = HtmlUnescapeU32(match);
      out += decoded.find(U';') == U32::npos ? decoded : match;
    } else {
      AsciiName(text, j, end, &name);
      const char32_t* value = LookupFixerEntity(name);
      out += value != nullptr ? U32(value) : match;
    }
    i = end;
  }
  return out;
}

U32 FixC1Controls(const U32& text) {
  U32 out = text;
  for (char32_t& c : out) {
    if (c >= 0x80 && c <= 0x9F) c = kCp1252High[c - 0x80];
  }
  return out;
}

bool HasC1(const U32& text) {
  for (char32_t c : text) {
    if (c >= 0x80 && c <= 0x9F) return true;
  }
  return false;
}

// Windows-1252 spellings of continuation bytes that are common punctuation on
// their own (quotes, dashes, bullet, ellipsis): weak evidence of mojibake.
bool IsCommonPunctuation(char32_t c) {
  switch (c) {
    case 0x201A:
    case 0x201E:
    case 0x2026:
    case 0x2022:
    case 0x2013:
    case 0x2014:
    case 0x2018:
    case 0x2019:
    case 0x201C:
    case 0x201D:
      return true;
    default:
      return false;
  }
}

bool IsStrictContinuation(char32_t c) {
  int b = SingleByteOf(c);
  return b >= 0x80 && b <= 0xBF && !IsCommonPunctuation(c);
}

// Lead bytes of two-byte sequences that we accept as mojibake: Latin-1
// Supplement and Latin Extended-A (C2-C5), Greek (CE, CF) and Cyrillic
// (D0, D1). Others (e.g. "ß" or "×" before a symbol) occur in real text.
bool IsAcceptedTwoByteLead(int b) {
  return (b >= 0xC2 && b <= 0xC5) || b == 0xCE || b == 0xCF || b == 0xD0 ||
         b == 0xD1;
}

// If text[i...] spells a well-formed UTF-8 sequence in Latin-1/Windows-1252
// characters, returns its length in characters (else 0) and sets `*strict`
// when one of its continuation characters is strong evidence.
size_t MojibakeSequenceAt(const U32& text, size_t i, bool* strict) {
  *strict = false;
  int b0 = SingleByteOf(text[i]);
  size_t extra;
  int lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!IsAcceptedTwoByteLead(b0)) return 0;
    extra = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    extra = 2;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    extra = 3;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + extra >= text.size()) return 0;
  bool any_strict = false;
  for (size_t k = 1; k <= extra; ++k) {
    int b = SingleByteOf(text[i + k]);
    if (b < lo || b > hi) return 0;
    lo = 0x80;
    hi = 0xBF;
    any_strict = any_strict || !IsCommonPunctuation(text[i + k]);
  }
  *strict = any_strict;
  return extra + 1;
}

// Whether the text contains mojibake that we know how to recognise.
bool IsBad(const U32& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    bool strict;
    if (MojibakeSequenceAt(text, i, &strict) > 0 && strict) return true;
  }
  return false;
}

U32 FixEncoding(U32 text);

// ftfy.fixes.decode_inconsistent_utf8: fixes runs of mojibake embedded in
// text that cannot be re-decoded as a whole.
U32 DecodeInconsistentUtf8(const U32& text) {
  U32 out;
  out.reserve(text.size());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    size_t len = 0;
    bool strict = false;
    if (i == 0 || !IsStrictContinuation(text[i - 1])) {
      size_t j = i;
      while (j < n) {
        bool s;
        size_t l = MojibakeSequenceAt(text, j, &s);
        if (l == 0) break;
        strict = strict || s;
        j += l;
      }
      len = j - i;
    }
    if (len == 0) {
      out.push_back(text[i++]);
      continue;
    }
    U32 run = text.substr(i, len);
    if (len < n && strict) {
      out += FixEncoding(std::move(run));
    } else {
      out += run;
    }
    i += len;
  }
  return out;
}

U32 FixEncodingOneStep(const U32& text) {
  if (text.empty() || IsAscii(text) || !IsBad(text)) return text;
  std::string bytes;
  U32 fixed;
  for (Charmap charmap : {Charmap::kLatin1, Charmap::kSloppyCp1252}) {
    if (EncodeCharmap(text, charmap, &bytes) &&
        DecodeUtf8Strict(bytes, &fixed)) {
      return fixed;
    }
  }
  fixed = DecodeInconsistentUtf8(text);
  if (fixed != text) return fixed;
  // Latin-1 text whose C1 controls were meant as Windows-1252.
  if (EncodeCharmap(text, Charmap::kLatin1, &bytes)) {
    bool ok = true;
    fixed.clear();
    for (char c : bytes) {
      int b = static_cast<unsigned char>(c);
      if (b >= 0x80 && b <= 0x9F) {
        if (IsCp1252Unassigned(b)) {
          ok = false;
          break;
        }
        fixed.push_back(kCp1252High[b - 0x80]);
      } else {
        fixed.push_back(static_cast<char32_t>(b));
      }
    }
    if (ok && fixed != text) return fixed;
  }
  if (HasC1(text)) return FixC1Controls(text);
  return text;
}

U32 FixEncoding(U32 text) {
  for (int iteration = 0; iteration < 32; ++iteration) {
    U32 next = FixEncodingOneStep(text);
    if (next == text) break;
    text = std::move(next);
  }
  return text;
}

U32 FixLatinLigatures(const U32& text) {
  U32 out;
  out.reserve(text.size());
  for (char32_t c : text) {
    switch (c) {
      case 0x0132:
        out += U"IJ";
        break;
      case 0x0133:
        out += U"ij";
        break;
      case 0x0149:
        out += U"\u02BCn";
        break;
      case 0x01F1:
        out += U"DZ";
        break;
      case 0x01F2:
        out += U"Dz";
        break;
      case 0x01F3:
        out += U"dz";
        break;
      case 0x01C4:
        out += U"D\u017D";
        break;
      case 0x01C5:
        out += U"D\u017E";
        break;
      case 0x01C6:
        out += U"d\u017E";
        break;
      case 0x01C7:
        out += U"LJ";
        break;
      case 0x01C8:
        out += U"Lj";
        break;
      case 0x01C9:
        out += U"lj";
        break;
      case 0x01CA:
        out += U"NJ";
        break;
      case 0x01CB:
        out += U"Nj";
        break;
      case 0x01CC:
        out += U"nj";
        break;
      case 0xFB00:
        out += U"ff";
        break;
      case 0xFB01:
        out += U"fi";
        break;
      case 0xFB02:
        out += U"fl";
        break;
      case 0xFB03:
        out += U"ffi";
        break;
      case 0xFB04:
        out += U"ffl";
        break;
      case 0xFB05:
        out += U"\u017Ft";
        break;
      case 0xFB06:
        out += U"st";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Fullwidth and halfwidth forms (U+FF01-U+FFEF) to their NFKC equivalents,
// and U+3000 IDEOGRAPHIC SPACE to a space.
U32 FixCharacterWidth(const U32& text) {
  bool any = false;
  for (char32_t c : text) {
    if (c == 0x3000 || (c >= 0xFF01 && c <= 0xFFEF)) {
      any = true;
      break;
    }
  }
  const icu::Normalizer2* nfkc = NfkcInstance();
  if (!any || nfkc == nullptr) return text;
  U32 out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c == 0x3000) {
      out.push_back(U' ');
    } else if (c >= 0xFF01 && c <= 0xFFEF) {
      UErrorCode status = U_ZERO_ERROR;
      icu::UnicodeString folded =
          nfkc->normalize(icu::UnicodeString(static_cast<UChar32>(c)), status);
      if (U_SUCCESS(status)) {
        out += FromIcu(folded);
      } else {
        out.push_back(c);
      }
    } else {
      out.push_back(c);
    }
  }
  return out;
}

U32 UncurlQuotes(const U32& text) {
  U32 out = text;
  for (char32_t& c : out) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) {
      c = U'\'';
    } else if (c >= 0x201C && c <= 0x201F) {
      c = U'"';
    }
  }
  return out;
}

U32 FixLineBreaks(const U32& text) {
  U32 out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char32_t c = text[i];
    if (c == U'\r') {
      if (i + 1 < text.size() && text[i + 1] == U'\n') ++i;
      out.push_back(U'\n');
    } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
      out.push_back(U'\n');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// "\033[" (digit | ';')* letter, the ANSI terminal escapes.
U32 RemoveTerminalEscapes(const U32& text) {
  if (text.find(U'\033') == U32::npos) return text;
  U32 out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == U'\033' && i + 1 < text.size() && text[i + 1] == U'[') {
      size_t k = i + 2;
      while (k < text.size() &&
             (text[k] == U';' || u_charType(static_cast<UChar32>(text[k])) ==
                                     U_DECIMAL_DIGIT_NUMBER)) {
        ++k;
      }
      if (k < text.size() && ((text[k] >= U'a' && text[k] <= U'z') ||
                              (text[k] >= U'A' && text[k] <= U'Z'))) {
        i = k + 1;
        continue;
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

bool IsRemovedControl(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
         (c >= 0x206A && c <= 0x206F) || c == 0xFEFF ||
         (c >= 0xFFF9 && c <= 0xFFFC);
}

U32 RemoveControlChars(const U32& text) {
  U32 out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (!IsRemovedControl(c)) out.push_back(c);
  }
  return out;
}

// ftfy.fix_and_explain for one segment, repeated until nothing changes.
U32 FixSegment(U32 text, bool unescape_html) {
  for (int iteration = 0; iteration < 32; ++iteration) {
    const U32 original = text;
    if (unescape_html) text = FixerUnescapeHtml(text);
    text = FixEncoding(std::move(text));
    text = FixC1Controls(text);
    text = FixLatinLigatures(text);
    text = FixCharacterWidth(text);
    text = UncurlQuotes(text);
    text = FixLineBreaks(text);
    // fix_surrogates has nothing to do: decoded UTF-8 holds no surrogates.
    text = RemoveTerminalEscapes(text);
    text = RemoveControlChars(text);
    text = Nfc(text);
    if (text == original) break;
  }
  return text;
}

constexpr size_t kMaxDecodeLength = 1000000;

}  // namespace

U32 FixTextU32(const U32& text) {
  bool unescape_html = true;  // ftfy's "auto"
  U32 out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t newline = text.find(U'\n', pos);
    size_t end = newline == U32::npos ? text.size() : newline + 1;
    if (end - pos > kMaxDecodeLength) end = pos + kMaxDecodeLength;
    U32 segment = text.substr(pos, end - pos);
    if (unescape_html && segment.find(U'<') != U32::npos) {
      unescape_html = false;  // stays off for the following segments
    }
    out += FixSegment(std::move(segment), unescape_html);
    pos = end;
  }
  return out;
}

}  // namespace text_clean_internal
}  // namespace clip
