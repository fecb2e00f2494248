// Fuzzes request validation (server/request_validation.h) on bytes parsed
// as retrieval.v1.SearchRequest and BatchSearchRequest, validated the way
// the service validates them, and on the raw bytes as a query text.
//
// Invariants: ValidateText accepts exactly the texts of at most
// kMaxTextBytes bytes that are valid UTF-8 and not only whitespace (never
// invalid UTF-8); ValidateTopK accepts exactly [0, kMaxTopK] and reports
// the effective value; ValidateCategory accepts exactly the values the
// proto's Category defines (0 to 3, CATEGORY_AUTO included);
// ValidateBatchSize accepts at most kMaxBatchRequests; ValidateOffset
// accepts exactly [0, kMaxTopK - top_k]; ValidateModelVersion exactly the
// non-negative versions; ValidateQueryKind exactly one set kind;
// ValidateEmbedding accepts exactly finite vectors of the expected size and
// non-zero norm and returns them with unit norm; every error is
// INVALID_ARGUMENT and starts with the field name.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "retrieval/v1/retrieval.pb.h"
#include "server/request_validation.h"

namespace {

// Whether the text holds a character that is certainly not white space.
bool HasAsciiGraphic(absl::string_view s) {
  for (char c : s) {
    if (c > ' ' && c < 0x7f) return true;
  }
  return false;
}

bool OnlyAsciiSpace(absl::string_view s) {
  for (char c : s) {
    if (c != ' ' && (c < 0x09 || c > 0x0d)) return false;
  }
  return true;
}

void CheckError(const absl::Status& st, const std::string& field) {
  FUZZ_CHECK(st.code() == absl::StatusCode::kInvalidArgument) << st;
  FUZZ_CHECK(absl::StartsWith(st.message(), field)) << st;
}

void CheckText(absl::string_view text, const std::string& field) {
  const absl::Status st = server::ValidateText(text, field);
  const bool valid_utf8 = fuzz::IsWellFormedUtf8(text);
  const bool fits = text.size() <= server::kMaxTextBytes;
  if (st.ok()) {
    FUZZ_CHECK(valid_utf8) << "invalid UTF-8 accepted: " << fuzz::Escaped(text);
    FUZZ_CHECK(fits) << text.size() << " bytes accepted";
    FUZZ_CHECK(!OnlyAsciiSpace(text)) << fuzz::Escaped(text);
  } else {
    CheckError(st, field);
    FUZZ_CHECK(!(valid_utf8 && fits && HasAsciiGraphic(text)))
        << "good text refused: " << st << " " << fuzz::Escaped(text);
  }
}

void CheckRequest(const retrieval::v1::SearchRequest& r,
                  const std::string& prefix) {
  CheckText(r.text(), prefix + "text");
  int effective = -1;
  const absl::Status top_k =
      server::ValidateTopK(r.top_k(), prefix + "top_k", &effective);
  const bool top_k_good = r.top_k() >= 0 && r.top_k() <= server::kMaxTopK;
  FUZZ_CHECK(top_k.ok() == top_k_good) << r.top_k() << " " << top_k;
  if (top_k.ok()) {
    FUZZ_CHECK(effective == (r.top_k() == 0 ? server::kDefaultTopK : r.top_k()))
        << effective;
  } else {
    CheckError(top_k, prefix + "top_k");
  }
  const int category = static_cast<int>(r.category());
  const absl::Status cat =
      server::ValidateCategory(category, prefix + "category");
  FUZZ_CHECK(cat.ok() == retrieval::v1::Category_IsValid(category)) << category;
  if (!cat.ok()) CheckError(cat, prefix + "category");
  if (top_k.ok()) {
    const absl::Status offset =
        server::ValidateOffset(r.offset(), effective, prefix + "offset");
    FUZZ_CHECK(offset.ok() ==
               (r.offset() >= 0 && r.offset() <= server::kMaxTopK - effective))
        << r.offset() << " " << effective;
    if (!offset.ok()) CheckError(offset, prefix + "offset");
  }
  const absl::Status version =
      server::ValidateModelVersion(r.model_version(), prefix + "model_version");
  FUZZ_CHECK(version.ok() == (r.model_version() >= 0)) << r.model_version();
  if (!version.ok()) CheckError(version, prefix + "model_version");
  const bool kinds[3] = {!r.text().empty(), !r.image().empty(),
                         r.embedding_size() > 0};
  const absl::Status kind =
      server::ValidateQueryKind(kinds[0], kinds[1], kinds[2], prefix);
  FUZZ_CHECK(kind.ok() == (kinds[0] + kinds[1] + kinds[2] == 1));
  if (!kind.ok()) CheckError(kind, prefix + "text");
  // The embedding against the size it has and against another size.
  const int64_t n = r.embedding_size();
  for (int64_t dim : {n, n + 1}) {
    std::vector<float> unit;
    const absl::Status st = server::ValidateEmbedding(
        absl::MakeConstSpan(r.embedding().data(), r.embedding_size()), dim,
        prefix + "embedding", &unit);
    bool finite = true;
    double norm = 0;
    for (float x : r.embedding()) {
      finite = finite && std::isfinite(x);
      norm += static_cast<double>(x) * x;
    }
    if (st.ok()) {
      FUZZ_CHECK(dim == n && finite && norm > 0);
      double unit_norm = 0;
      for (float x : unit) {
        FUZZ_CHECK(std::isfinite(x));
        unit_norm += static_cast<double>(x) * x;
      }
      FUZZ_CHECK(std::fabs(unit_norm - 1) < 1e-3) << unit_norm;
    } else {
      CheckError(st, prefix + "embedding");
      FUZZ_CHECK(!(dim == n && finite && norm > 1e-30)) << st;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckText(bytes, "text");
  retrieval::v1::SearchRequest request;
  if (request.ParseFromArray(data, static_cast<int>(size))) {
    CheckRequest(request, "");
  }
  retrieval::v1::BatchSearchRequest batch;
  if (batch.ParseFromArray(data, static_cast<int>(size))) {
    const absl::Status st = server::ValidateBatchSize(batch.requests_size());
    FUZZ_CHECK(st.ok() == (batch.requests_size() <= server::kMaxBatchRequests))
        << batch.requests_size();
    if (!st.ok()) CheckError(st, "requests");
    for (int i = 0; i < batch.requests_size(); ++i) {
      CheckRequest(batch.requests(i), absl::StrCat("requests[", i, "]."));
    }
  }
  return 0;
}
