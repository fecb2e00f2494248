// The one conversion between absl::Status and grpc::Status (their codes are
// numerically the same), and the canonical names of gRPC codes, for the
// server, the clients and their tests.
#ifndef COMMON_GRPC_STATUS_H_
#define COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace common {

// Same code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Same code and message; a code outside gRPC's range becomes UNKNOWN.
absl::Status FromGrpcStatus(const grpc::Status& status);

// "OK", "INVALID_ARGUMENT", ...; "CODE_<n>" for a value outside the range.
std::string GrpcCodeName(grpc::StatusCode code);

}  // namespace common

#endif  // COMMON_GRPC_STATUS_H_
