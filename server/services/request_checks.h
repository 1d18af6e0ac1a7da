// What every handler checks of a request before calling the core: shared by the services so that
// the same mistake gets the same answer from every RPC.
#ifndef OCTET_SERVER_SERVICES_REQUEST_CHECKS_H_
#define OCTET_SERVER_SERVICES_REQUEST_CHECKS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/sync_stream.h"

namespace octet::server {

// INVALID_ARGUMENT with `message`.
grpc::Status InvalidArgument(const std::string& message);

// The page size a List request asks for: its default when 0; INVALID_ARGUMENT naming page_size
// when negative or above the largest page.
absl::StatusOr<int> PageSize(int32_t requested);

// Reads the first message of a client-streamed upload into `message`: INVALID_ARGUMENT unless
// there is one and it holds the header (`has_header()`).
template <typename Request>
grpc::Status ReadUploadHeader(grpc::ServerReaderInterface<Request>* reader, Request* message,
                              const char* method) {
  if (!reader->Read(message) || !message->has_header()) {
    return InvalidArgument(absl::StrCat("the first message of ", method, " must be a header"));
  }
  return grpc::Status::OK;
}

}  // namespace octet::server

#endif  // OCTET_SERVER_SERVICES_REQUEST_CHECKS_H_
