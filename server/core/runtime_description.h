// ModelService.DescribeRuntime's work: how a served version runs on this server for given input
// shapes, step by step (nothing is computed: the plan is built on zero inputs).
#ifndef OCTET_SERVER_CORE_RUNTIME_DESCRIPTION_H_
#define OCTET_SERVER_CORE_RUNTIME_DESCRIPTION_H_

#include "absl/status/statusor.h"
#include "octet/v1/model_service.pb.h"
#include "server/core/model_registry.h"

namespace octet::server {

// The plan of `model` for the request's batch size (fills a dynamic first dimension) and input
// shapes: INVALID_ARGUMENT naming the field for a batch size, an input or a dimension that does not
// fit the model, or inputs of more than 256 MiB.
absl::StatusOr<octet::v1::ModelRuntime> DescribeRuntime(
    const LoadedModel& model, const octet::v1::DescribeRuntimeRequest& request);

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_RUNTIME_DESCRIPTION_H_
