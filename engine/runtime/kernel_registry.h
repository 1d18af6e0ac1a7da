// The operators the runtime executes, each with a static check (run at upload, before any shape
// is known) and a factory that builds a kernel for concrete input shapes.
#ifndef OCTET_ENGINE_RUNTIME_KERNEL_REGISTRY_H_
#define OCTET_ENGINE_RUNTIME_KERNEL_REGISTRY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/ir/graph.h"
#include "engine/runtime/kernel.h"

namespace octet {

struct OpDefinition {
  absl::string_view op_type;
  // Checks attributes and which inputs must be constant; INVALID_ARGUMENT naming the node.
  absl::Status (*check)(const Node& node, const Graph& graph);
  absl::StatusOr<BuiltKernel> (*build)(const KernelBuildContext& context);
};

// The definition for a default-domain op, or nullptr.
const OpDefinition* FindOp(absl::string_view domain, absl::string_view op_type);

// OK when every node is an op the runtime executes with attributes it supports. Otherwise
// INVALID_ARGUMENT naming every unsupported op type with one node of each, then the first
// attribute problem of each other kind.
absl::Status CheckGraphSupported(const Graph& graph);

// The factories, one per file under onednn/ and cpu/.
absl::Status CheckConv(const Node& node, const Graph& graph);
absl::StatusOr<BuiltKernel> BuildConv(const KernelBuildContext& context);
absl::Status CheckGemm(const Node& node, const Graph& graph);
absl::StatusOr<BuiltKernel> BuildGemm(const KernelBuildContext& context);
absl::Status CheckMatMul(const Node& node, const Graph& graph);
absl::StatusOr<BuiltKernel> BuildMatMul(const KernelBuildContext& context);
absl::Status CheckRelu(const Node& node, const Graph& graph);
absl::StatusOr<BuiltKernel> BuildRelu(const KernelBuildContext& context);
absl::Status CheckAdd(const Node& node, const Graph& graph);
absl::StatusOr<BuiltKernel> BuildAdd(const KernelBuildContext& context);
absl::Status CheckFlatten(const Node& node, const Graph& graph);
absl::StatusOr<BuiltKernel> BuildFlatten(const KernelBuildContext& context);
absl::Status CheckReshape(const Node& node, const Graph& graph);
absl::StatusOr<BuiltKernel> BuildReshape(const KernelBuildContext& context);

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_KERNEL_REGISTRY_H_
