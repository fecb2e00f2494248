// Validation of retrieval.v1 requests, with the limits the proto documents.
// Each error is INVALID_ARGUMENT and names the offending field.
#ifndef SERVER_REQUEST_VALIDATION_H_
#define SERVER_REQUEST_VALIDATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace server {

inline constexpr size_t kMaxTextBytes = 2048;
inline constexpr int kMaxTopK = 1000;
inline constexpr int kDefaultTopK = 10;
inline constexpr int kMaxBatchRequests = 256;
// The largest retrieval.v1.Category value (CATEGORY_AUTO).
inline constexpr int kMaxCategoryValue = 3;

// `field` names the text in messages, e.g. "text" or "requests[3].text".
// Rejects empty or whitespace-only text, invalid UTF-8, and texts longer
// than kMaxTextBytes.
absl::Status ValidateText(absl::string_view text, const std::string& field);

// top_k of 0 means kDefaultTopK; otherwise it must be in [1, kMaxTopK].
// Returns the effective value through `effective`.
absl::Status ValidateTopK(int top_k, const std::string& field, int* effective);

absl::Status ValidateBatchSize(int n);

// Category enum values the proto defines: 0 UNSPECIFIED, 1 PEDESTRIAN,
// 2 VEHICLE, 3 AUTO (kMaxCategoryValue).
absl::Status ValidateCategory(int category, const std::string& field);

// offset in [0, kMaxTopK - top_k] (top_k the effective one): a page may not
// reach past the kMaxTopK best hits.
absl::Status ValidateOffset(int offset, int top_k, const std::string& field);

// A model version of a request: 0 (the default) or positive.
absl::Status ValidateModelVersion(int64_t version, const std::string& field);

// Exactly one of a query's text, image and embedding is set; `prefix`
// starts the field names ("" or "requests[3].").
absl::Status ValidateQueryKind(bool has_text, bool has_image,
                               bool has_embedding, const std::string& prefix);

// An embedding query: `dim` finite floats, not all zero. Returns it
// L2-normalised through `normalized`.
absl::Status ValidateEmbedding(absl::Span<const float> embedding, int64_t dim,
                               const std::string& field,
                               std::vector<float>* normalized);

}  // namespace server

#endif  // SERVER_REQUEST_VALIDATION_H_
