#ifndef OCTET_SERVER_SERVICES_GRPC_STATUS_H_
#define OCTET_SERVER_SERVICES_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace octet::server {

// The gRPC status with the same code and message (the canonical codes are the same numbers).
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace octet::server

#endif  // OCTET_SERVER_SERVICES_GRPC_STATUS_H_
