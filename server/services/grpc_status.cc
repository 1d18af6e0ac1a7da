#include "server/services/grpc_status.h"

#include <string>

namespace octet::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode both follow google.rpc.Code, value for value; anything
  // outside that range is a bug, reported as UNKNOWN rather than passed through.
  const int code = static_cast<int>(status.code());
  const grpc::StatusCode grpc_code =
      code >= grpc::StatusCode::CANCELLED && code <= grpc::StatusCode::UNAUTHENTICATED
          ? static_cast<grpc::StatusCode>(code)
          : grpc::StatusCode::UNKNOWN;
  return grpc::Status(grpc_code, std::string(status.message()));
}

}  // namespace octet::server
