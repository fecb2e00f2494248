// Code points: the single-byte code pages that mojibake comes from, UTF-8
// decoding, and the ICU helpers (normalisation, conversion).
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "clip/text_clean_internal.h"
#include "unicode/normalizer2.h"
#include "unicode/unistr.h"
#include "unicode/utf16.h"

namespace clip {
namespace text_clean_internal {

// ---------------------------------------------------------------------------
// Single-byte code pages.

bool IsCp1252Unassigned(int byte) {
  return byte == 0x81 || byte == 0x8D || byte == 0x8F || byte == 0x90 ||
         byte == 0x9D;
}

namespace {

// The byte that `c` comes from in Windows-1252 (the 0x80-0x9F block).
int Cp1252HighByte(char32_t c) {
  for (int i = 0; i < 32; ++i) {
    if (kCp1252High[i] == c) return 0x80 + i;
  }
  return -1;
}

}  // namespace

// The byte `c` decodes from in Latin-1 or (sloppy) Windows-1252; -1 if none.
int SingleByteOf(char32_t c) {
  if (c < 0x100) return static_cast<int>(c);
  return Cp1252HighByte(c);
}

bool EncodeCharmap(const U32& text, Charmap charmap, std::string* bytes) {
  bytes->clear();
  bytes->reserve(text.size());
  for (char32_t c : text) {
    int b;
    if (charmap == Charmap::kLatin1) {
      b = c < 0x100 ? static_cast<int>(c) : -1;
    } else if (c < 0x80 || (c >= 0xA0 && c < 0x100)) {
      b = static_cast<int>(c);
    } else {
      b = Cp1252HighByte(c);
    }
    if (b < 0) return false;
    bytes->push_back(static_cast<char>(b));
  }
  return true;
}

// ---------------------------------------------------------------------------
// UTF-8.

// Decodes one code point at `*pos`. Returns -1 for an invalid sequence, after
// advancing `*pos` past its maximal subpart (at least one byte).
int32_t NextCodePoint(absl::string_view s, size_t* pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t i = *pos;
  unsigned b0 = p[i++];
  if (b0 < 0x80) {
    *pos = i;
    return static_cast<int32_t>(b0);
  }
  int extra;
  unsigned lo = 0x80, hi = 0xBF;
  int32_t cp;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    extra = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    extra = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    extra = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    *pos = i;
    return -1;
  }
  for (int k = 0; k < extra; ++k) {
    if (i >= n || p[i] < lo || p[i] > hi) {
      *pos = i;
      return -1;
    }
    cp = (cp << 6) | (p[i++] & 0x3F);
    lo = 0x80;
    hi = 0xBF;
  }
  *pos = i;
  return cp;
}

bool DecodeUtf8Strict(absl::string_view s, U32* out) {
  out->clear();
  size_t pos = 0;
  while (pos < s.size()) {
    int32_t c = NextCodePoint(s, &pos);
    if (c < 0) return false;
    out->push_back(static_cast<char32_t>(c));
  }
  return true;
}

bool IsAscii(const U32& text) {
  for (char32_t c : text) {
    if (c >= 0x80) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// ICU helpers.

namespace {

icu::UnicodeString ToIcu(const U32& text) {
  return icu::UnicodeString::fromUTF32(
      reinterpret_cast<const UChar32*>(text.data()),
      static_cast<int32_t>(text.size()));
}

const icu::Normalizer2* NfcInstance() {
  static const icu::Normalizer2* nfc = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return nfc;
}

}  // namespace

U32 FromIcu(const icu::UnicodeString& s) {
  U32 out;
  out.reserve(static_cast<size_t>(s.length()));
  for (int32_t i = 0; i < s.length();) {
    UChar32 c = s.char32At(i);
    out.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
  return out;
}

const icu::Normalizer2* NfkcInstance() {
  static const icu::Normalizer2* nfkc = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFKCInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return nfkc;
}

U32 Nfc(const U32& text) {
  // Code points below U+0300 are all NFC-stable and never compose with a
  // preceding character.
  bool simple = true;
  for (char32_t c : text) {
    if (c >= 0x300) {
      simple = false;
      break;
    }
  }
  const icu::Normalizer2* nfc = NfcInstance();
  if (simple || nfc == nullptr) return text;
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString src = ToIcu(text);
  if (nfc->quickCheck(src, status) == UNORM_YES && U_SUCCESS(status)) {
    return text;
  }
  status = U_ZERO_ERROR;
  icu::UnicodeString dst = nfc->normalize(src, status);
  if (U_FAILURE(status)) return text;
  return FromIcu(dst);
}

}  // namespace text_clean_internal
}  // namespace clip
