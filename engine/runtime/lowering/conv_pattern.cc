#include "absl/strings/str_cat.h"
#include "engine/runtime/kernel_registry.h"
#include "engine/runtime/lowering/patterns.h"

namespace octet {

std::optional<ConvMatch> MatchConv(const QdqReader& g, const Node& q) {
  if (!g.IsActivationQuantize(q)) return std::nullopt;
  ConvMatch match;
  const Node* node = g.Producer(q.input(0));
  if (node == nullptr || g.Readers(q.input(0)) != 1) return std::nullopt;
  if (g.IsFusableActivation(*node)) {
    match.activation = node;
    node = g.Producer(node->input(0));
    if (node == nullptr || g.Readers(match.activation->input(0)) != 1) return std::nullopt;
  }
  if (node->op_type != "Conv" || !node->domain.empty() || node->inputs.size() < 2) {
    return std::nullopt;
  }
  match.conv = node;
  match.dq_x = g.Producer(node->input(0));
  match.dq_w = g.Producer(node->input(1));
  if (!g.IsActivationDequantize(match.dq_x) || !g.IsWeightDequantize(match.dq_w)) {
    return std::nullopt;
  }
  if (!node->input(2).empty()) {
    if (g.graph().FindConstant(node->input(2)) != nullptr) {
      match.bias_constant = node->input(2);
    } else {
      const Node* dq_b = g.Producer(node->input(2));
      if (dq_b == nullptr || dq_b->op_type != "DequantizeLinear" ||
          g.graph().FindConstant(dq_b->input(0)) == nullptr ||
          g.graph().FindConstant(dq_b->input(1)) == nullptr ||
          (!dq_b->input(2).empty() && g.graph().FindConstant(dq_b->input(2)) == nullptr)) {
        return std::nullopt;
      }
      match.dq_b = dq_b;
    }
  }
  match.absorbed.push_back(g.IndexOf(match.conv));
  if (match.activation != nullptr) match.absorbed.push_back(g.IndexOf(match.activation));
  return match;
}

namespace {

// The bias in real units, as a float constant of `graph` (computed once here).
std::string RealBias(const QdqReader& g, const ConvMatch& match, Graph* graph) {
  return g.RealBiasOf(match.conv->input(2), match.conv->outputs[0], graph);
}

}  // namespace

// The Int8Conv node of `match`, its bias's constant added to `graph`; with no graph, the node
// without its bias (enough for ComputedExactly).
Node BuildInt8Conv(const QdqReader& g, const ConvMatch& match, const Node& q, Graph* graph) {
  Node node;
  node.name = match.conv->name;
  node.op_type = "Int8Conv";
  node.domain = std::string(kOctetDomain);
  node.attributes = match.conv->attributes;
  node.inputs = {match.dq_x->input(0),
                 match.dq_x->input(1),
                 match.dq_x->input(2),
                 match.dq_w->input(0),
                 match.dq_w->input(1),
                 q.input(1),
                 q.input(2)};
  if (graph != nullptr && !match.conv->input(2).empty()) {
    node.inputs.push_back(RealBias(g, match, graph));
  }
  node.outputs = q.outputs;
  if (match.activation != nullptr) g.AddActivationAttributes(*match.activation, &node);
  return node;
}

}  // namespace octet
