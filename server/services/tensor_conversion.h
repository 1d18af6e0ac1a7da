// Conversion between KServe v2 tensors and engine tensors.
#ifndef OCTET_SERVER_SERVICES_TENSOR_CONVERSION_H_
#define OCTET_SERVER_SERVICES_TENSOR_CONVERSION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/runtime/session.h"
#include "inference/open_inference_grpc.pb.h"

namespace octet::server {

// The request's inputs as engine tensors, from raw_input_contents when present, else from the
// typed contents. INVALID_ARGUMENT names the input and the field on any mismatch (unknown
// datatype, negative dim, content size or count not matching the shape, a value out of range for
// the datatype); sizes are checked before anything is allocated.
absl::StatusOr<std::vector<NamedTensor>> InputsFromRequest(
    const inference::ModelInferRequest& request);

// Appends `tensor` as output `name`, its bytes in raw_output_contents.
void AddOutput(const std::string& name, const Tensor& tensor,
               inference::ModelInferResponse* response);

}  // namespace octet::server

#endif  // OCTET_SERVER_SERVICES_TENSOR_CONVERSION_H_
