// The QDQ patterns the int8 lowering turns into int8 ops: each a match (what the pattern's nodes
// are, or nullopt when the graph does not hold it) and the node of the runtime's own domain that
// replaces it. One file per pattern beside this one.
#ifndef OCTET_ENGINE_RUNTIME_LOWERING_PATTERNS_H_
#define OCTET_ENGINE_RUNTIME_LOWERING_PATTERNS_H_

#include <optional>
#include <string>
#include <vector>

#include "engine/ir/graph.h"
#include "engine/runtime/lowering/qdq_reader.h"

namespace octet {

// DQ -> Conv [-> activation] -> Q (conv_pattern.cc).
struct ConvMatch {
  const Node* conv = nullptr;
  const Node* activation = nullptr;
  const Node* dq_x = nullptr;
  const Node* dq_w = nullptr;
  const Node* dq_b = nullptr;  // or nullptr with a float constant bias (bias_constant)
  std::string bias_constant;
  std::vector<size_t> absorbed;  // Conv, activation (the Q itself is replaced)
};

std::optional<ConvMatch> MatchConv(const QdqReader& g, const Node& q);
// The Int8Conv node of `match`, its bias's constant added to `graph`; with no graph, the node
// without its bias (enough for ComputedExactly).
Node BuildInt8Conv(const QdqReader& g, const ConvMatch& match, const Node& q, Graph* graph);

// DQ -> Gemm/MatMul [-> activation] [-> Q] (linear_pattern.cc).
struct LinearMatch {
  const Node* op = nullptr;  // Gemm or MatMul
  const Node* activation = nullptr;
  const Node* q = nullptr;  // nullptr: the result stays float
  const Node* dq_x = nullptr;
  const Node* dq_w = nullptr;
  bool trans_b = false;
};

// Gemm(DQ(x), DQ(w)[, bias]) (transA 0, alpha and beta 1) or MatMul(DQ(x), DQ(w)) with 2-D
// constant int8 weights, zero points 0, scales per tensor or per output column;
// [-> Relu | Clip | LeakyRelu | HardSwish | Sigmoid] -> Q, or a float result read as it is.
std::optional<LinearMatch> MatchLinear(const QdqReader& g, const Node& op);
// The Int8MatMul node of `match`, its bias's constant added to `graph`; with no graph, the node
// without its bias (enough for ComputedExactly).
Node BuildInt8MatMul(const QdqReader& g, const LinearMatch& match, Graph* graph);

// DQ -> pooling -> Q (pool_pattern.cc).
struct PoolMatch {
  const Node* pool = nullptr;
  const Node* dq_x = nullptr;
  // Why the pattern stays in float, or "".
  std::string inexact;
};

// Q(pool(DQ(x))) with per-tensor parameters and the same integer type in and out.
std::optional<PoolMatch> MatchPool(const QdqReader& g, const Node& q);
Node BuildInt8Pool(const PoolMatch& match, const Node& q);

// Q([Relu](Add(DQ(a), DQ(b)))) (add_pattern.cc).
struct AddMatch {
  const Node* add = nullptr;
  const Node* relu = nullptr;
  const Node* dq_a = nullptr;
  const Node* dq_b = nullptr;
};

// Q([Relu](Add(DQ(a), DQ(b)))) with per-tensor parameters: the residual Add of a quantized
// ResNet block.
std::optional<AddMatch> MatchAdd(const QdqReader& g, const Node& q);
Node BuildInt8Add(const AddMatch& match, const Node& q);

// Ops that move values, and Concat (data_movement_patterns.cc).
// Q(op(DQ(x))) for an op that only moves values (Flatten, Reshape, Transpose, Squeeze,
// Unsqueeze) with the same scale and zero point on both sides: the op on x's integers gives the
// same result. MaxPool is left to MatchPool (oneDNN's int8 pooling).
const Node* MatchValuePreserving(const QdqReader& g, const Node& q);
// Q(Concat(DQ(a), DQ(b), ...)) with per-tensor parameters everywhere: each input is copied,
// requantized where its parameters differ from the output's, into its slice of the result.
const Node* MatchConcat(const QdqReader& g, const Node& q);
// The Int8Concat node replacing `concat` read by `q`.
Node BuildInt8Concat(const QdqReader& g, const Node& concat, const Node& q);

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_LOWERING_PATTERNS_H_
