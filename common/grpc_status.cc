#include "common/grpc_status.h"

#include "absl/strings/str_cat.h"

namespace common {
namespace {

bool InRange(int code) {
  return code >= 0 &&
         code <= static_cast<int>(absl::StatusCode::kUnauthenticated);
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int code = static_cast<int>(status.error_code());
  return absl::Status(InRange(code) ? static_cast<absl::StatusCode>(code)
                                    : absl::StatusCode::kUnknown,
                      status.error_message());
}

std::string GrpcCodeName(grpc::StatusCode code) {
  const int value = static_cast<int>(code);
  if (!InRange(value)) return absl::StrCat("CODE_", value);
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(value));
}

}  // namespace common
