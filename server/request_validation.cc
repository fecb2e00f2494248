#include "server/request_validation.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace server {
namespace {

// Unicode White_Space characters as UTF-8 (ASCII, NEL, NBSP, the U+2000
// block, line/paragraph separators, ideographic space, ...).
size_t WhitespaceLength(absl::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d)) return 1;
  auto starts = [&](absl::string_view p) {
    return s.substr(i, p.size()) == p ? p.size() : 0;
  };
  for (absl::string_view p :
       {"\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\xa8", "\xe2\x80\xa9",
        "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"}) {
    if (size_t n = starts(p)) return n;
  }
  // U+2000..U+200A
  if (c == 0xe2 && i + 2 < s.size() &&
      static_cast<unsigned char>(s[i + 1]) == 0x80 &&
      static_cast<unsigned char>(s[i + 2]) <= 0x8a) {
    return 3;
  }
  return 0;
}

}  // namespace

absl::Status ValidateText(absl::string_view text, const std::string& field) {
  if (text.size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", text.size(), " bytes, the limit is ", kMaxTextBytes));
  }
  if (absl::Status st = common::ValidateUtf8(text); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not valid UTF-8"));
  }
  size_t i = 0;
  while (i < text.size()) {
    size_t n = WhitespaceLength(text, i);
    if (n == 0) break;
    i += n;
  }
  if (i == text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": empty or only whitespace"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTopK(int top_k, const std::string& field, int* effective) {
  if (top_k == 0) {
    *effective = kDefaultTopK;
    return absl::OkStatus();
  }
  if (top_k < 1 || top_k > kMaxTopK) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", top_k, " is outside [1, ", kMaxTopK, "]"));
  }
  *effective = top_k;
  return absl::OkStatus();
}

absl::Status ValidateBatchSize(int n) {
  if (n > kMaxBatchRequests) {
    return absl::InvalidArgumentError(absl::StrCat(
        "requests: ", n, " queries, the limit is ", kMaxBatchRequests));
  }
  return absl::OkStatus();
}

absl::Status ValidateCategory(int category, const std::string& field) {
  if (category < 0 || category > kMaxCategoryValue) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": unknown category value ", category,
                     " (0 unspecified, 1 pedestrian, 2 vehicle, 3 auto)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateOffset(int offset, int top_k, const std::string& field) {
  if (offset < 0 || offset > kMaxTopK - top_k) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", offset, " is outside [0, ", kMaxTopK - top_k,
                     "] (offset + top_k may not exceed ", kMaxTopK, ")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateModelVersion(int64_t version, const std::string& field) {
  if (version < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", version, " is negative (0 asks for the default version)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateQueryKind(bool has_text, bool has_image,
                               bool has_embedding, const std::string& prefix) {
  const int n = int{has_text} + int{has_image} + int{has_embedding};
  if (n == 1) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      prefix, "text, ", prefix, "image, ", prefix, "embedding: ",
      n == 0 ? "none is set" : "more than one is set", "; set exactly one"));
}

absl::Status ValidateEmbedding(absl::Span<const float> embedding, int64_t dim,
                               const std::string& field,
                               std::vector<float>* normalized) {
  if (static_cast<int64_t>(embedding.size()) != dim) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", embedding.size(),
                     " values, the model version's embeddings have ", dim));
  }
  double norm = 0;
  for (size_t i = 0; i < embedding.size(); ++i) {
    if (!std::isfinite(embedding[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[", i, "]: not a finite number"));
    }
    norm += static_cast<double>(embedding[i]) * embedding[i];
  }
  norm = std::sqrt(norm);
  if (!(norm > 0) || !std::isfinite(norm)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": all zero (or too small to normalise)"));
  }
  normalized->resize(embedding.size());
  for (size_t i = 0; i < embedding.size(); ++i) {
    (*normalized)[i] = static_cast<float>(embedding[i] / norm);
  }
  return absl::OkStatus();
}

}  // namespace server
