#include "engine/runtime/fusion.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace octet {
namespace {

// When `add` is the Add `op` fuses as a sum post-op (OpDefinition::sum_op) and reads `value` as
// one operand exactly once: the inputs the fused node takes from it, the other operand first;
// else empty.
std::vector<std::string> SumOperands(const Node& add, const OpDefinition& op,
                                     const std::string& value) {
  if (add.domain != op.domain || add.op_type != op.sum_op || add.outputs.size() != 1) return {};
  if (add.domain.empty()) {
    if (add.inputs.size() != 2 || add.inputs[0] == add.inputs[1]) return {};
    return {add.inputs[add.inputs[0] == value ? 1 : 0]};
  }
  // ai.octet.Int8Add(a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero)
  if (add.inputs.size() != 8 || add.inputs[0] == add.inputs[3] ||
      (add.inputs[0] != value && add.inputs[3] != value)) {
    return {};
  }
  const size_t own = add.inputs[0] == value ? 0 : 3;
  const size_t other = 3 - own;
  return {add.inputs[other],   add.inputs[other + 1], add.inputs[other + 2], add.inputs[own + 1],
          add.inputs[own + 2], add.inputs[6],         add.inputs[7]};
}

}  // namespace

FusionAnalysis::FusionAnalysis(const Graph& graph) : graph_(graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& input : graph.nodes[i].inputs) {
      ++readers_[input];
      reader_nodes_[input].push_back(i);
    }
  }
  for (const ValueInfo& output : graph.outputs) {
    ++readers_[output.name];
    graph_outputs_.insert(output.name);
  }
}

std::optional<size_t> FusionAnalysis::NextReader(size_t after, const std::string& value) const {
  auto it = reader_nodes_.find(value);
  if (it == reader_nodes_.end()) return std::nullopt;
  for (size_t reader : it->second) {
    if (reader > after) return reader;
  }
  return std::nullopt;
}

std::optional<ResidualFusion> FusionAnalysis::ResidualAfter(
    size_t index, const OpDefinition& op,
    const std::function<bool(const std::string&)>& computed) const {
  const Node& node = graph_.nodes[index];
  if (op.sum_input < 0 || node.outputs.size() != 1) return std::nullopt;
  auto count = readers_.find(node.outputs[0]);
  if (count == readers_.end() || count->second != 1) return std::nullopt;
  const std::optional<size_t> next = NextReader(index, node.outputs[0]);
  if (!next.has_value()) return std::nullopt;
  std::vector<std::string> operands = SumOperands(graph_.nodes[*next], op, node.outputs[0]);
  if (operands.empty()) return std::nullopt;
  const std::string& other = operands[0];
  auto readers = reader_nodes_.find(other);
  const bool dies_at_add = !graph_outputs_.contains(other) && readers != reader_nodes_.end() &&
                           std::all_of(readers->second.begin(), readers->second.end(),
                                       [&](size_t r) { return r < index || r == *next; });
  if (!dies_at_add || !computed(other)) return std::nullopt;
  return ResidualFusion{*next, std::move(operands)};
}

std::optional<ActivationFusion> FusionAnalysis::ActivationAfter(
    size_t index, const OpDefinition& op, const std::string& value,
    const std::function<const Tensor*(const std::string&)>& constant) const {
  auto count = readers_.find(value);
  if (!op.fuses_activation || count == readers_.end() || count->second != 1) return std::nullopt;
  const std::optional<size_t> next = NextReader(index, value);
  if (!next.has_value() || graph_.nodes[*next].input(0) != value) return std::nullopt;
  std::optional<FusedActivation> activation = FusableActivation(graph_.nodes[*next], constant);
  if (!activation.has_value()) return std::nullopt;
  return ActivationFusion{*next, *activation};
}

std::optional<FusedActivation> FusableActivation(
    const Node& node, const std::function<const Tensor*(const std::string&)>& constant) {
  using Kind = FusedActivation::Kind;
  if (!node.domain.empty() || node.outputs.size() != 1) return std::nullopt;
  auto attribute = [&node](const char* name, float fallback) {
    absl::StatusOr<float> value = node.GetFloat(name, fallback);
    return value.ok() ? *value : fallback;
  };
  if (node.op_type == "Relu") return FusedActivation{Kind::kRelu};
  if (node.op_type == "LeakyRelu") {
    return FusedActivation{Kind::kLeakyRelu, attribute("alpha", 0.01f)};
  }
  if (node.op_type == "Elu") return FusedActivation{Kind::kElu, attribute("alpha", 1.0f)};
  if (node.op_type == "Sigmoid") return FusedActivation{Kind::kSigmoid};
  if (node.op_type == "Tanh") return FusedActivation{Kind::kTanh};
  if (node.op_type == "HardSwish") return FusedActivation{Kind::kHardSwish};
  if (node.op_type != "Clip") return std::nullopt;
  float bounds[2] = {attribute("min", -std::numeric_limits<float>::infinity()),
                     attribute("max", std::numeric_limits<float>::infinity())};
  for (size_t i = 1; i <= 2; ++i) {
    if (node.input(i).empty()) continue;
    const Tensor* bound = constant(node.input(i));
    if (bound == nullptr || bound->type() != DataType::kFloat32 || bound->element_count() != 1) {
      return std::nullopt;
    }
    bounds[i - 1] = bound->data<float>()[0];
  }
  return FusedActivation{Kind::kClip, bounds[0], bounds[1]};
}

}  // namespace octet
