// The operators the runtime executes: the table gathered from every kernel family, and the
// checks a graph passes before a plan is built.
#ifndef OCTET_ENGINE_RUNTIME_KERNEL_REGISTRY_H_
#define OCTET_ENGINE_RUNTIME_KERNEL_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/ir/graph.h"
#include "engine/runtime/op_definition.h"

namespace octet {

// Graph inputs declared with at most this many elements may be needed by value when a plan is
// built (a shape given as an input); plans are then specialised on their values.
inline constexpr int64_t kMaxValueInputElements = 64;

// Which values a plan knows when it is built.
struct PlanConstantAnalysis {
  // Constants, value-specialised inputs, Shape outputs, and what is computed only from those.
  absl::flat_hash_set<std::string> known;
  // Graph inputs the plan must know by value (indices into Graph::inputs), ascending.
  std::vector<int> value_inputs;
};
PlanConstantAnalysis AnalyzePlanConstants(const Graph& graph);

// The definition for an op of `domain` ("" or kOctetDomain), or nullptr.
const OpDefinition* FindOp(absl::string_view domain, absl::string_view op_type);

// Every op type the runtime executes, sorted.
std::vector<absl::string_view> RegisteredOps();

// OK when every node is an op the runtime executes with inputs and attributes it supports.
// Otherwise INVALID_ARGUMENT naming every unsupported op type with one node of each, then every
// other problem; tagged with the kind of the first.
absl::Status CheckGraphSupported(const Graph& graph);

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_KERNEL_REGISTRY_H_
