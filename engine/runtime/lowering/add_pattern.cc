#include "absl/strings/str_cat.h"
#include "engine/runtime/kernel_registry.h"
#include "engine/runtime/lowering/patterns.h"

namespace octet {

// Q([Relu](Add(DQ(a), DQ(b)))) with per-tensor parameters: the residual Add of a quantized
// ResNet block.
std::optional<AddMatch> MatchAdd(const QdqReader& g, const Node& q) {
  if (!g.IsActivationQuantize(q)) return std::nullopt;
  AddMatch match;
  const Node* node = g.Producer(q.input(0));
  if (node == nullptr || g.Readers(q.input(0)) != 1) return std::nullopt;
  if (node->op_type == "Relu" && node->domain.empty()) {
    match.relu = node;
    node = g.Producer(node->input(0));
    if (node == nullptr || g.Readers(match.relu->input(0)) != 1) return std::nullopt;
  }
  if (node->op_type != "Add" || !node->domain.empty() || node->inputs.size() != 2) {
    return std::nullopt;
  }
  match.add = node;
  match.dq_a = g.Producer(node->input(0));
  match.dq_b = g.Producer(node->input(1));
  if (!g.IsActivationDequantize(match.dq_a) || !g.IsActivationDequantize(match.dq_b)) {
    return std::nullopt;
  }
  return match;
}

Node BuildInt8Add(const AddMatch& match, const Node& q) {
  Node node;
  node.name = match.add->name;
  node.op_type = "Int8Add";
  node.domain = std::string(kOctetDomain);
  node.inputs = {
      match.dq_a->input(0), match.dq_a->input(1), match.dq_a->input(2), match.dq_b->input(0),
      match.dq_b->input(1), match.dq_b->input(2), q.input(1),           q.input(2)};
  node.outputs = q.outputs;
  if (match.relu != nullptr) node.attributes["activation"] = std::string("Relu");
  return node;
}

}  // namespace octet
