#include "clip/text_clean.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "clip/text_clean_internal.h"
#include "unicode/locid.h"
#include "unicode/uchar.h"
#include "unicode/unistr.h"
#include "unicode/utf8.h"

namespace clip {
namespace {

using text_clean_internal::FixTextU32;
using text_clean_internal::HtmlUnescapeU32;
using text_clean_internal::IsLetter;
using text_clean_internal::IsNumber;
using text_clean_internal::IsSpace;
using text_clean_internal::kReplacementChar;
using text_clean_internal::NextCodePoint;
using text_clean_internal::U32;

U32 CollapseWhitespaceU32(const U32& text) {
  U32 out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char32_t c : text) {
    if (IsSpace(static_cast<UChar32>(c))) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(U' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// Matches `literal` (ASCII, lower case) at `pos` under simple case folding;
// returns the end offset or 0.
size_t MatchFolded(absl::string_view text, size_t pos,
                   absl::string_view literal) {
  for (char want : literal) {
    if (pos >= text.size()) return 0;
    UChar32 c;
    int32_t i = static_cast<int32_t>(pos);
    U8_NEXT(text.data(), i, static_cast<int32_t>(text.size()), c);
    if (c < 0 || u_foldCase(c, U_FOLD_CASE_DEFAULT) !=
                     static_cast<UChar32>(static_cast<unsigned char>(want))) {
      return 0;
    }
    pos = static_cast<size_t>(i);
  }
  return pos;
}

enum class CharClass { kSpace, kLetter, kNumber, kOther };

CharClass Classify(UChar32 c) {
  if (c < 0) return CharClass::kOther;
  if (c < 0x80) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      return CharClass::kLetter;
    }
    if (c >= '0' && c <= '9') return CharClass::kNumber;
  }
  if (IsSpace(c)) return CharClass::kSpace;
  if (IsLetter(c)) return CharClass::kLetter;
  if (IsNumber(c)) return CharClass::kNumber;
  return CharClass::kOther;
}

}  // namespace

std::u32string DecodeUtf8(absl::string_view utf8) {
  U32 out;
  out.reserve(utf8.size());
  size_t pos = 0;
  while (pos < utf8.size()) {
    int32_t c = NextCodePoint(utf8, &pos);
    out.push_back(c < 0 ? kReplacementChar : static_cast<char32_t>(c));
  }
  return out;
}

std::string EncodeUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      if (c >= 0xD800 && c <= 0xDFFF) c = kReplacementChar;
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c <= 0x10FFFF) {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out += "\xEF\xBF\xBD";
    }
  }
  return out;
}

std::string FixText(absl::string_view text) {
  return EncodeUtf8(FixTextU32(DecodeUtf8(text)));
}

std::string HtmlUnescape(absl::string_view text) {
  return EncodeUtf8(HtmlUnescapeU32(DecodeUtf8(text)));
}

std::string CollapseWhitespace(absl::string_view text) {
  return EncodeUtf8(CollapseWhitespaceU32(DecodeUtf8(text)));
}

std::string ToLowerUnicode(absl::string_view text) {
  bool ascii = true;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    std::string out(text.data(), text.size());
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  }
  icu::UnicodeString s = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  s.toLower(icu::Locale::getRoot());
  std::string out;
  s.toUTF8String(out);
  return out;
}

std::string CleanText(absl::string_view text) {
  U32 fixed = FixTextU32(DecodeUtf8(text));
  U32 unescaped = HtmlUnescapeU32(HtmlUnescapeU32(fixed));
  return ToLowerUnicode(EncodeUtf8(CollapseWhitespaceU32(unescaped)));
}

std::vector<absl::string_view> PreTokenize(absl::string_view cleaned) {
  std::vector<absl::string_view> pieces;
  const int32_t n = static_cast<int32_t>(cleaned.size());
  const char* data = cleaned.data();
  int32_t pos = 0;
  while (pos < n) {
    const size_t start = static_cast<size_t>(pos);
    // Special tokens, then contractions, in the regex's order.
    size_t end = 0;
    if (data[pos] == '<') {
      end = MatchFolded(cleaned, start, "<|startoftext|>");
      if (end == 0) end = MatchFolded(cleaned, start, "<|endoftext|>");
    } else if (data[pos] == '\'') {
      for (absl::string_view suffix : {"s", "t", "re", "ve", "m", "ll", "d"}) {
        end = MatchFolded(cleaned, start + 1, suffix);
        if (end != 0) break;
      }
    }
    if (end != 0) {
      pieces.push_back(cleaned.substr(start, end - start));
      pos = static_cast<int32_t>(end);
      continue;
    }
    UChar32 c;
    int32_t next = pos;
    U8_NEXT(data, next, n, c);
    const CharClass cls = Classify(c);
    if (cls == CharClass::kSpace) {
      pos = next;
      continue;
    }
    if (cls == CharClass::kNumber) {
      pieces.push_back(
          cleaned.substr(start, static_cast<size_t>(next) - start));
      pos = next;
      continue;
    }
    // A run of letters, or a run of "other" characters.
    int32_t run_end = next;
    while (run_end < n) {
      int32_t after = run_end;
      UChar32 d;
      U8_NEXT(data, after, n, d);
      if (Classify(d) != cls) break;
      run_end = after;
    }
    pieces.push_back(
        cleaned.substr(start, static_cast<size_t>(run_end) - start));
    pos = run_end;
  }
  return pieces;
}

}  // namespace clip
