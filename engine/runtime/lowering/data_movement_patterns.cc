#include "absl/strings/str_cat.h"
#include "engine/runtime/kernel_registry.h"
#include "engine/runtime/lowering/patterns.h"

namespace octet {

// Q(op(DQ(x))) for an op that only moves values (Flatten, Reshape, Transpose, Squeeze,
// Unsqueeze) with the same scale and zero point on both sides: the op on x's integers gives the
// same result. MaxPool is left to MatchPool (oneDNN's int8 pooling).
const Node* MatchValuePreserving(const QdqReader& g, const Node& q) {
  static const char* const kOps[] = {"Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze"};
  const Node* op = g.Producer(q.input(0));
  if (op == nullptr || !op->domain.empty() || g.Readers(q.input(0)) != 1 || op->inputs.empty() ||
      std::find(std::begin(kOps), std::end(kOps), op->op_type) == std::end(kOps)) {
    return nullptr;
  }
  const Node* dq = g.Producer(op->input(0));
  if (!g.IsActivationDequantize(dq) || !g.IsScalarConstant(q.input(1), DataType::kFloat32)) {
    return nullptr;
  }
  const DataType type = *g.graph().TypeOf(dq->input(0));
  const Tensor& x_scale = *g.graph().FindConstant(dq->input(1));
  const Tensor& y_scale = *g.graph().FindConstant(q.input(1));
  if (x_scale.data<float>()[0] != y_scale.data<float>()[0]) return nullptr;
  auto zero = [&](const std::string& name, DataType t) -> std::optional<int> {
    if (name.empty()) return t == DataType::kUint8 ? std::optional<int>(0) : std::nullopt;
    const Tensor* z = g.graph().FindConstant(name);
    if (z == nullptr || z->element_count() != 1 || z->type() != t) return std::nullopt;
    return t == DataType::kUint8 ? int{z->data<uint8_t>()[0]} : int{z->data<int8_t>()[0]};
  };
  // Without a zero point, QuantizeLinear gives uint8.
  const std::optional<int> x_zero = zero(dq->input(2), type);
  const std::optional<int> y_zero = zero(q.input(2), type);
  if (!x_zero.has_value() || x_zero != y_zero) return nullptr;
  return op;
}

// Q(Concat(DQ(a), DQ(b), ...)) with per-tensor parameters everywhere: each input is copied,
// requantized where its parameters differ from the output's, into its slice of the result.
const Node* MatchConcat(const QdqReader& g, const Node& q) {
  const Node* concat = g.Producer(q.input(0));
  if (concat == nullptr || !concat->domain.empty() || concat->op_type != "Concat" ||
      g.Readers(q.input(0)) != 1 || concat->inputs.empty() || !g.IsActivationQuantize(q)) {
    return nullptr;
  }
  for (const std::string& input : concat->inputs) {
    if (!g.IsActivationDequantize(g.Producer(input))) return nullptr;
  }
  return concat;
}

Node BuildInt8Concat(const QdqReader& g, const Node& concat, const Node& q) {
  Node node;
  node.name = concat.name;
  node.op_type = "Int8Concat";
  node.domain = std::string(kOctetDomain);
  node.attributes = concat.attributes;
  node.inputs = {q.input(1), q.input(2)};
  for (const std::string& input : concat.inputs) {
    const Node& dq = *g.Producer(input);
    node.inputs.insert(node.inputs.end(), {dq.input(0), dq.input(1), dq.input(2)});
  }
  node.outputs = q.outputs;
  return node;
}

}  // namespace octet
