#include "common/grpc_status.h"

#include "gtest/gtest.h"

namespace common {
namespace {

TEST(GrpcStatusTest, RoundTripsEveryCodeAndMessage) {
  for (int c = 1; c <= 16; ++c) {
    const absl::Status a(static_cast<absl::StatusCode>(c), "why");
    const grpc::Status g = ToGrpcStatus(a);
    EXPECT_EQ(static_cast<int>(g.error_code()), c);
    EXPECT_EQ(g.error_message(), "why");
    EXPECT_EQ(FromGrpcStatus(g), a);
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatusTest, CodesOutsideTheRangeAreUnknownAndNamedByNumber) {
  // 20 is within the enum's range of values but names no gRPC code.
  const grpc::Status odd(static_cast<grpc::StatusCode>(20), "odd");
  EXPECT_EQ(FromGrpcStatus(odd).code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(FromGrpcStatus(odd).message(), "odd");
  EXPECT_EQ(GrpcCodeName(static_cast<grpc::StatusCode>(20)), "CODE_20");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::RESOURCE_EXHAUSTED),
            "RESOURCE_EXHAUSTED");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
}

}  // namespace
}  // namespace common
