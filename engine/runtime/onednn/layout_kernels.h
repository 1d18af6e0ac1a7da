// Layout conversion steps the plan inserts between a channel-blocked value and an op that reads
// plain tensors.
#ifndef OCTET_ENGINE_RUNTIME_ONEDNN_LAYOUT_KERNELS_H_
#define OCTET_ENGINE_RUNTIME_ONEDNN_LAYOUT_KERNELS_H_

#include "absl/status/statusor.h"
#include "engine/runtime/kernel.h"

namespace octet::onednn {

// A kernel reordering one value from `blocked` to the plain layout of the same shape.
absl::StatusOr<BuiltKernel> MakeToPlainKernel(const TensorDesc& blocked);

}  // namespace octet::onednn

#endif  // OCTET_ENGINE_RUNTIME_ONEDNN_LAYOUT_KERNELS_H_
