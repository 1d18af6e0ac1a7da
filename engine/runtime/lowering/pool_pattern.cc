#include "absl/strings/str_cat.h"
#include "engine/runtime/kernel_registry.h"
#include "engine/runtime/lowering/patterns.h"

namespace octet {

// Q(pool(DQ(x))) with per-tensor parameters and the same integer type in and out.
std::optional<PoolMatch> MatchPool(const QdqReader& g, const Node& q) {
  static const char* const kPools[] = {"MaxPool", "AveragePool", "GlobalMaxPool",
                                       "GlobalAveragePool"};
  const Node* pool = g.Producer(q.input(0));
  if (pool == nullptr || !pool->domain.empty() || g.Readers(q.input(0)) != 1 ||
      std::find(std::begin(kPools), std::end(kPools), pool->op_type) == std::end(kPools) ||
      (pool->outputs.size() > 1 && !pool->outputs[1].empty())) {
    return std::nullopt;
  }
  PoolMatch match;
  match.pool = pool;
  match.dq_x = g.Producer(pool->input(0));
  if (!g.IsActivationDequantize(match.dq_x) ||
      !g.IsScalarConstant(q.input(1), DataType::kFloat32)) {
    return std::nullopt;
  }
  const DataType x_type = *g.graph().TypeOf(match.dq_x->input(0));
  const DataType y_type = q.input(2).empty() ? DataType::kUint8 : *g.graph().TypeOf(q.input(2));
  if (x_type != y_type || (!q.input(2).empty() && !g.IsScalarConstant(q.input(2), y_type))) {
    return std::nullopt;
  }
  // An average counting padding takes the padded values as real 0, integer z_x; oneDNN pads
  // with integer 0.
  if (pool->op_type == "AveragePool" && pool->GetInt("count_include_pad", 0).value_or(0) != 0) {
    const std::vector<int64_t> pads = pool->GetInts("pads", {}).value_or(std::vector<int64_t>{});
    const std::string auto_pad = pool->GetString("auto_pad", "NOTSET").value_or("NOTSET");
    const bool padded = std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p > 0; }) ||
                        auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
    const Tensor* zero =
        match.dq_x->input(2).empty() ? nullptr : g.graph().FindConstant(match.dq_x->input(2));
    const bool zero_is_zero =
        zero == nullptr ||
        (x_type == DataType::kUint8 ? zero->data<uint8_t>()[0] == 0 : zero->data<int8_t>()[0] == 0);
    if (padded && !zero_is_zero) {
      match.inexact = "average counting padding with a non-zero input zero point";
    }
  }
  return match;
}

Node BuildInt8Pool(const PoolMatch& match, const Node& q) {
  Node node;
  node.name = match.pool->name;
  node.op_type = absl::StrCat("Int8", match.pool->op_type);
  node.domain = std::string(kOctetDomain);
  node.attributes = match.pool->attributes;
  node.inputs = {match.dq_x->input(0), match.dq_x->input(1), match.dq_x->input(2), q.input(1),
                 q.input(2)};
  node.outputs = q.outputs;
  return node;
}

}  // namespace octet
