// Which nodes a plan fuses into the kernel of the node before them, read from the graph: a
// residual Add after an op that takes it as a sum post-op (OpDefinition::sum_input), and an
// activation after an op that applies one (OpDefinition::fuses_activation). Whether a fusion
// holds also depends on what the kernel builds; the plan tries it, and builds without it when the
// factory refuses it.
#ifndef OCTET_ENGINE_RUNTIME_FUSION_H_
#define OCTET_ENGINE_RUNTIME_FUSION_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "engine/ir/graph.h"
#include "engine/runtime/op_definition.h"

namespace octet {

// A fusable Add after a node.
struct ResidualFusion {
  size_t add;  // the Add's node index
  // The inputs the fused node takes from the Add (OpDefinition::sum_op), the other operand first.
  std::vector<std::string> operands;
};

// A fusable activation after a node.
struct ActivationFusion {
  size_t node;  // the activation's node index
  FusedActivation activation;
};

// Who reads which value in `graph`, for the fusion questions. The graph must outlive it.
class FusionAnalysis {
 public:
  explicit FusionAnalysis(const Graph& graph);

  // The Add the op of node `index` (defined by `op`) may take as its sum post-op: the node's only
  // reader is the next node, an Add of `op`'s sum_op reading the result once, and the Add's other
  // operand is a value the plan computes (`computed`), read by no node from this one on but the
  // Add, and not a graph output, so that the node may write over it in place.
  std::optional<ResidualFusion> ResidualAfter(
      size_t index, const OpDefinition& op,
      const std::function<bool(const std::string&)>& computed) const;

  // The activation the op of node `index` may apply to `value` (its output, or the fused Add's):
  // `value`'s only reader, reading it as its first input. Clip fuses only with bounds that are
  // plan constants (`constant` returns them, or nullptr).
  std::optional<ActivationFusion> ActivationAfter(
      size_t index, const OpDefinition& op, const std::string& value,
      const std::function<const Tensor*(const std::string&)>& constant) const;

 private:
  std::optional<size_t> NextReader(size_t after, const std::string& value) const;

  const Graph& graph_;
  // How many node inputs and graph outputs read each value, and which nodes, in order.
  absl::flat_hash_map<std::string, int> readers_;
  absl::flat_hash_map<std::string, std::vector<size_t>> reader_nodes_;
  absl::flat_hash_set<std::string> graph_outputs_;
};

// The activation `node` applies as a kernel's post-op, or nullopt when it is not one that fuses
// (Clip only with constant bounds, which `constant` returns).
std::optional<FusedActivation> FusableActivation(
    const Node& node, const std::function<const Tensor*(const std::string&)>& constant);

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_FUSION_H_
