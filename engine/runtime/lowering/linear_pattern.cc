#include "absl/strings/str_cat.h"
#include "engine/runtime/kernel_registry.h"
#include "engine/runtime/lowering/patterns.h"

namespace octet {

// Gemm(DQ(x), DQ(w)[, bias]) (transA 0, alpha and beta 1) or MatMul(DQ(x), DQ(w)) with 2-D
// constant int8 weights, zero points 0, scales per tensor or per output column;
// [-> Relu | Clip | LeakyRelu | HardSwish | Sigmoid] -> Q, or a float result read as it is.
std::optional<LinearMatch> MatchLinear(const QdqReader& g, const Node& op) {
  if (!op.domain.empty() || (op.op_type != "Gemm" && op.op_type != "MatMul") ||
      op.inputs.size() < 2 || op.outputs.size() != 1) {
    return std::nullopt;
  }
  LinearMatch match;
  match.op = &op;
  if (op.op_type == "Gemm") {
    if (op.GetInt("transA", 0).value_or(1) != 0 || op.GetFloat("alpha", 1.0f).value_or(0) != 1 ||
        op.GetFloat("beta", 1.0f).value_or(0) != 1) {
      return std::nullopt;
    }
    match.trans_b = op.GetInt("transB", 0).value_or(0) != 0;
  } else if (op.inputs.size() != 2) {
    return std::nullopt;
  }
  match.dq_x = g.Producer(op.input(0));
  match.dq_w = g.Producer(op.input(1));
  if (!g.IsActivationDequantize(match.dq_x) ||
      !g.IsMatrixWeightDequantize(match.dq_w, match.trans_b ? 0 : 1)) {
    return std::nullopt;
  }
  if (op.op_type == "Gemm" && !op.input(2).empty()) {
    const Tensor* bias = g.graph().FindConstant(op.input(2));
    const Tensor& w = *g.graph().FindConstant(match.dq_w->input(0));
    const int64_t n = match.trans_b ? w.dim(0) : w.dim(1);
    if (bias == nullptr || bias->type() != DataType::kFloat32 || bias->rank() != 1 ||
        bias->dim(0) != n) {
      const Node* dq_b = g.Producer(op.input(2));
      if (!g.IsBiasDequantize(dq_b) ||
          g.graph().FindConstant(dq_b->input(0))->element_count() != n) {
        return std::nullopt;
      }
    }
  }
  const Node* next = g.Readers(op.outputs[0]) == 1 ? g.SoleReader(op.outputs[0]) : nullptr;
  if (next != nullptr && g.IsFusableActivation(*next) && g.Readers(next->outputs[0]) == 1) {
    const Node* q = g.SoleReader(next->outputs[0]);
    if (q != nullptr && g.IsActivationQuantize(*q)) {
      match.activation = next;
      match.q = q;
    }
  } else if (next != nullptr && g.IsActivationQuantize(*next)) {
    match.q = next;
  }
  return match;
}

// The Int8MatMul node of `match`, its bias's constant added to `graph`; with no graph, the node
// without its bias (enough for ComputedExactly).
Node BuildInt8MatMul(const QdqReader& g, const LinearMatch& match, Graph* graph) {
  Node node;
  node.name = match.op->name;
  node.op_type = "Int8MatMul";
  node.domain = std::string(kOctetDomain);
  node.inputs = {match.dq_x->input(0), match.dq_x->input(1), match.dq_x->input(2),
                 match.dq_w->input(0), match.dq_w->input(1)};
  const std::string bias =
      graph != nullptr && match.op->op_type == "Gemm" && !match.op->input(2).empty()
          ? g.RealBiasOf(match.op->input(2), match.op->outputs[0], graph)
          : std::string();
  if (match.q != nullptr || !bias.empty()) {
    node.inputs.push_back(match.q != nullptr ? match.q->input(1) : "");
    node.inputs.push_back(match.q != nullptr ? match.q->input(2) : "");
  }
  if (!bias.empty()) node.inputs.push_back(bias);
  node.outputs = match.q != nullptr ? match.q->outputs : match.op->outputs;
  node.attributes["trans_b"] = int64_t{match.trans_b ? 1 : 0};
  if (match.activation != nullptr) g.AddActivationAttributes(*match.activation, &node);
  return node;
}

}  // namespace octet
