#ifndef OCTET_SERVER_SERVICES_GRPC_STATUS_H_
#define OCTET_SERVER_SERVICES_GRPC_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/support/status.h"

namespace octet::server {

// The gRPC status with the same code and message (the canonical codes are the same numbers).
grpc::Status ToGrpcStatus(const absl::Status& status);

// OK with `*response` set to `result`'s value, or `result`'s error as a gRPC status: the end of a
// unary handler whose core call returns the response.
template <typename T>
grpc::Status Respond(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace octet::server

#endif  // OCTET_SERVER_SERVICES_GRPC_STATUS_H_
