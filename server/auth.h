// The bearer-token check both transports apply: the gRPC service (client
// metadata) and the REST gateway (HTTP headers) hand it the values of every
// "authorization" entry the call carries.
#ifndef SERVER_AUTH_H_
#define SERVER_AUTH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace server {

// OK when `expected_header` is empty (no authentication) or when `values`
// holds exactly one entry equal to it (compared in constant time).
// UNAUTHENTICATED when there is none or it differs, and when there are
// several: a proxy in front may check one of them and the server another, so
// such calls are refused rather than matched. `carrier` names where the
// values came from in the messages ("metadata", "header").
absl::Status CheckBearerToken(absl::Span<const absl::string_view> values,
                              const std::string& expected_header,
                              absl::string_view carrier);

}  // namespace server

#endif  // SERVER_AUTH_H_
