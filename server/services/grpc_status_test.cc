#include "server/services/grpc_status.h"

#include "gtest/gtest.h"

namespace octet::server {
namespace {

TEST(GrpcStatusTest, KeepsCodeAndMessage) {
  const struct {
    absl::Status in;
    grpc::StatusCode out;
  } cases[] = {
      {absl::InvalidArgumentError("bad shape"), grpc::StatusCode::INVALID_ARGUMENT},
      {absl::NotFoundError("no model"), grpc::StatusCode::NOT_FOUND},
      {absl::AlreadyExistsError("taken"), grpc::StatusCode::ALREADY_EXISTS},
      {absl::ResourceExhaustedError("too big"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::FailedPreconditionError("in use"), grpc::StatusCode::FAILED_PRECONDITION},
      {absl::UnimplementedError("no kernel"), grpc::StatusCode::UNIMPLEMENTED},
      {absl::InternalError("bug"), grpc::StatusCode::INTERNAL},
      {absl::UnavailableError("busy"), grpc::StatusCode::UNAVAILABLE},
      {absl::DataLossError("corrupt"), grpc::StatusCode::DATA_LOSS},
  };
  for (const auto& c : cases) {
    const grpc::Status s = ToGrpcStatus(c.in);
    EXPECT_EQ(s.error_code(), c.out) << c.in;
    EXPECT_EQ(s.error_message(), c.in.message());
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(GrpcStatusTest, OutOfRangeCodesBecomeUnknown) {
  EXPECT_EQ(ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(99), "odd")).error_code(),
            grpc::StatusCode::UNKNOWN);
}

}  // namespace
}  // namespace octet::server
