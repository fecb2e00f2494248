#include "server/auth.h"

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"

namespace server {

absl::Status CheckBearerToken(absl::Span<const absl::string_view> values,
                              const std::string& expected_header,
                              absl::string_view carrier) {
  if (expected_header.empty()) return absl::OkStatus();
  if (values.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("missing 'authorization: Bearer <token>' ", carrier));
  }
  if (values.size() > 1) {
    return absl::UnauthenticatedError(
        absl::StrCat("the call carries ", values.size(), " 'authorization' ",
                     carrier, " entries; send exactly one"));
  }
  const absl::string_view v = values.front();
  if (v.size() == expected_header.size() &&
      CRYPTO_memcmp(v.data(), expected_header.data(), v.size()) == 0) {
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError("invalid bearer token");
}

}  // namespace server
