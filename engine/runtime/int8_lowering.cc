#include "engine/runtime/int8_lowering.h"

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/runtime/kernel_registry.h"

namespace octet {
namespace {

bool IsScalarConstant(const Graph& graph, const std::string& name, DataType type) {
  const Tensor* t = graph.FindConstant(name);
  return t != nullptr && t->type() == type && t->element_count() == 1;
}

class Lowerer {
 public:
  explicit Lowerer(const Graph& graph) : in_(graph) {
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      for (const std::string& output : graph.nodes[i].outputs) producer_[output] = i;
      for (const std::string& input : graph.nodes[i].inputs) {
        if (input.empty()) continue;
        ++readers_[input];
        first_reader_.emplace(input, i);
      }
    }
    for (const ValueInfo& output : graph.outputs) ++readers_[output.name];
  }

  Int8Lowering Run() {
    Int8Lowering result;
    result.graph = in_;
    std::vector<bool> removed(in_.nodes.size(), false);
    absl::flat_hash_map<size_t, Node> replacement;
    for (size_t i = 0; i < in_.nodes.size(); ++i) {
      if (std::optional<LinearMatch> linear = MatchLinear(in_.nodes[i])) {
        if (absl::Status exact = ComputedExactly(BuildInt8MatMul(*linear, nullptr)); !exact.ok()) {
          result.kept_float.push_back(absl::StrCat(linear->op->Describe(), ": ", exact.message()));
          continue;
        }
        removed[i] = true;
        if (linear->activation != nullptr) removed[IndexOf(linear->activation)] = true;
        const size_t at = linear->q != nullptr ? IndexOf(linear->q) : i;
        removed[at] = true;
        replacement[at] = BuildInt8MatMul(*linear, &result.graph);
        result.lowered.push_back(absl::StrCat(
            "Int8MatMul ", linear->op->Describe(),
            linear->activation != nullptr ? absl::StrCat(" + ", linear->activation->op_type) : "",
            linear->q == nullptr ? " (float result)" : ""));
        continue;
      }
      const Node& q = in_.nodes[i];
      if (q.op_type != "QuantizeLinear" || !q.domain.empty() || replacement.contains(i)) continue;
      if (const Node* op = MatchValuePreserving(q)) {
        removed[IndexOf(op)] = true;
        Node moved = *op;
        moved.inputs[0] = Producer(op->input(0))->input(0);
        moved.outputs = q.outputs;
        replacement[i] = std::move(moved);
        result.lowered.push_back(absl::StrCat(op->op_type, " ", op->Describe(), " on int8"));
        continue;
      }
      if (const Node* concat = MatchConcat(q)) {
        removed[IndexOf(concat)] = true;
        Node node;
        node.name = concat->name;
        node.op_type = "Int8Concat";
        node.domain = std::string(kOctetDomain);
        node.attributes = concat->attributes;
        node.inputs = {q.input(1), q.input(2)};
        for (const std::string& input : concat->inputs) {
          const Node& dq = *Producer(input);
          node.inputs.insert(node.inputs.end(), {dq.input(0), dq.input(1), dq.input(2)});
        }
        node.outputs = q.outputs;
        replacement[i] = std::move(node);
        result.lowered.push_back(absl::StrCat("Int8Concat ", concat->Describe()));
        continue;
      }
      if (std::optional<PoolMatch> pool = MatchPool(q)) {
        if (!pool->inexact.empty()) {
          result.kept_float.push_back(absl::StrCat(pool->pool->Describe(), ": ", pool->inexact));
          continue;
        }
        removed[IndexOf(pool->pool)] = true;
        replacement[i] = BuildInt8Pool(*pool, q);
        result.lowered.push_back(
            absl::StrCat("Int8", pool->pool->op_type, " ", pool->pool->Describe()));
        continue;
      }
      if (std::optional<AddMatch> add = MatchAdd(q)) {
        removed[IndexOf(add->add)] = true;
        if (add->relu != nullptr) removed[IndexOf(add->relu)] = true;
        replacement[i] = BuildInt8Add(*add, q);
        result.lowered.push_back(
            absl::StrCat("Int8Add ", add->add->Describe(), add->relu != nullptr ? " + Relu" : ""));
        continue;
      }
      std::optional<Match> match = MatchConv(q);
      if (!match.has_value()) continue;
      if (absl::Status exact = ComputedExactly(BuildInt8Conv(*match, q, nullptr)); !exact.ok()) {
        result.kept_float.push_back(absl::StrCat(match->conv->Describe(), ": ", exact.message()));
        continue;
      }
      for (size_t index : match->absorbed) removed[index] = true;
      replacement[i] = BuildInt8Conv(*match, q, &result.graph);
      result.lowered.push_back(absl::StrCat(
          "Int8Conv ", match->conv->Describe(),
          match->activation != nullptr ? absl::StrCat(" + ", match->activation->op_type) : ""));
    }
    std::vector<Node> nodes;
    for (size_t i = 0; i < in_.nodes.size(); ++i) {
      auto it = replacement.find(i);
      if (it != replacement.end()) {
        nodes.push_back(std::move(it->second));
      } else if (!removed[i]) {
        nodes.push_back(in_.nodes[i]);
      }
    }
    result.graph.nodes = std::move(nodes);
    DropUnreadDequantizes(&result.graph);
    return result;
  }

 private:
  struct Match {
    const Node* conv = nullptr;
    const Node* activation = nullptr;
    const Node* dq_x = nullptr;
    const Node* dq_w = nullptr;
    const Node* dq_b = nullptr;  // or nullptr with a float constant bias (bias_constant)
    std::string bias_constant;
    std::vector<size_t> absorbed;  // Conv, activation (the Q itself is replaced)
  };

  // OK when an implementation of the int8 op `node` computes it exactly on this CPU, as its
  // factory will choose it when the plan is built; else why none does. The registry is asked with
  // what is known before shapes: the graph's types and constants.
  absl::Status ComputedExactly(const Node& node) const {
    const OpDefinition* op = FindOp(kOctetDomain, node.op_type);
    if (op == nullptr) return absl::InternalError(absl::StrCat("no op ", node.op_type));
    KernelBuildContext context{node, in_.opset, {}, {}, std::nullopt};
    for (const std::string& input : node.inputs) {
      const std::optional<DataType> type = input.empty() ? std::nullopt : in_.TypeOf(input);
      context.inputs.push_back(type.has_value() ? std::optional<TensorDesc>(TensorDesc{*type, {}})
                                                : std::nullopt);
      context.constants.push_back(input.empty() ? nullptr : in_.FindConstant(input));
    }
    absl::StatusOr<const Implementation*> chosen = ChooseImplementation(*op, context);
    return chosen.ok() ? absl::OkStatus() : chosen.status();
  }

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
  std::optional<LinearMatch> MatchLinear(const Node& op) const {
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
    match.dq_x = Producer(op.input(0));
    match.dq_w = Producer(op.input(1));
    if (!IsActivationDequantize(match.dq_x) ||
        !IsMatrixWeightDequantize(match.dq_w, match.trans_b ? 0 : 1)) {
      return std::nullopt;
    }
    if (op.op_type == "Gemm" && !op.input(2).empty()) {
      const Tensor* bias = in_.FindConstant(op.input(2));
      const Tensor& w = *in_.FindConstant(match.dq_w->input(0));
      const int64_t n = match.trans_b ? w.dim(0) : w.dim(1);
      if (bias == nullptr || bias->type() != DataType::kFloat32 || bias->rank() != 1 ||
          bias->dim(0) != n) {
        const Node* dq_b = Producer(op.input(2));
        if (!IsBiasDequantize(dq_b) || in_.FindConstant(dq_b->input(0))->element_count() != n) {
          return std::nullopt;
        }
      }
    }
    const Node* next = Readers(op.outputs[0]) == 1 ? SoleReader(op.outputs[0]) : nullptr;
    if (next != nullptr && IsFusableActivation(*next) && Readers(next->outputs[0]) == 1) {
      const Node* q = SoleReader(next->outputs[0]);
      if (q != nullptr && IsActivationQuantize(*q)) {
        match.activation = next;
        match.q = q;
      }
    } else if (next != nullptr && IsActivationQuantize(*next)) {
      match.q = next;
    }
    return match;
  }

  // The first node reading `value` (the only one where Readers(value) == 1), or nullptr.
  const Node* SoleReader(const std::string& value) const {
    auto it = first_reader_.find(value);
    return it == first_reader_.end() ? nullptr : &in_.nodes[it->second];
  }

  // An activation the int8 kernels fuse (Relu, Clip, LeakyRelu, HardSwish, Sigmoid), with any
  // parameters it takes as inputs constant.
  bool IsFusableActivation(const Node& node) const {
    static const char* const kActivations[] = {"Relu", "Clip", "LeakyRelu", "HardSwish", "Sigmoid"};
    if (!node.domain.empty() || std::find(std::begin(kActivations), std::end(kActivations),
                                          node.op_type) == std::end(kActivations)) {
      return false;
    }
    for (size_t i = 1; i < node.inputs.size(); ++i) {
      if (!node.inputs[i].empty() && in_.FindConstant(node.inputs[i]) == nullptr) return false;
    }
    return true;
  }

  // QuantizeLinear to a per-tensor u8/s8 value.
  bool IsActivationQuantize(const Node& q) const {
    return q.op_type == "QuantizeLinear" && q.domain.empty() &&
           IsScalarConstant(in_, q.input(1), DataType::kFloat32) &&
           (q.input(2).empty() || IsScalarConstant(in_, q.input(2), DataType::kUint8) ||
            IsScalarConstant(in_, q.input(2), DataType::kInt8));
  }

  // Whether the weights' DequantizeLinear has no zero point or int8 zero points that are all 0.
  bool HasZeroWeightZeroPoints(const Node& dq) const {
    if (dq.input(2).empty()) return true;
    const Tensor* zero = in_.FindConstant(dq.input(2));
    if (zero == nullptr || zero->type() != DataType::kInt8) return false;
    for (int8_t z : zero->values<int8_t>()) {
      if (z != 0) return false;
    }
    return true;
  }

  // DequantizeLinear of constant int8 2-D weights with zero points 0, per tensor or along
  // `column_axis` (the output columns).
  bool IsMatrixWeightDequantize(const Node* dq, int64_t column_axis) const {
    if (dq == nullptr || dq->op_type != "DequantizeLinear" || !dq->domain.empty()) return false;
    const Tensor* w = in_.FindConstant(dq->input(0));
    const Tensor* scale = in_.FindConstant(dq->input(1));
    if (w == nullptr || w->type() != DataType::kInt8 || w->rank() != 2 || scale == nullptr ||
        scale->type() != DataType::kFloat32) {
      return false;
    }
    if (scale->element_count() != 1) {
      int64_t axis = dq->GetInt("axis", 1).value_or(1);
      if (axis < 0) axis += 2;
      if (scale->rank() != 1 || axis != column_axis || scale->dim(0) != w->dim(column_axis)) {
        return false;
      }
    }
    return HasZeroWeightZeroPoints(*dq);
  }

  bool IsBiasDequantize(const Node* dq_b) const {
    return dq_b != nullptr && dq_b->op_type == "DequantizeLinear" && dq_b->domain.empty() &&
           in_.FindConstant(dq_b->input(0)) != nullptr &&
           in_.FindConstant(dq_b->input(1)) != nullptr &&
           (dq_b->input(2).empty() || in_.FindConstant(dq_b->input(2)) != nullptr);
  }

  // The Int8MatMul node of `match`, its bias's constant added to `graph`; with no graph, the node
  // without its bias (enough for ComputedExactly).
  Node BuildInt8MatMul(const LinearMatch& match, Graph* graph) const {
    Node node;
    node.name = match.op->name;
    node.op_type = "Int8MatMul";
    node.domain = std::string(kOctetDomain);
    node.inputs = {match.dq_x->input(0), match.dq_x->input(1), match.dq_x->input(2),
                   match.dq_w->input(0), match.dq_w->input(1)};
    const std::string bias =
        graph != nullptr && match.op->op_type == "Gemm" && !match.op->input(2).empty()
            ? RealBiasOf(match.op->input(2), match.op->outputs[0], graph)
            : std::string();
    if (match.q != nullptr || !bias.empty()) {
      node.inputs.push_back(match.q != nullptr ? match.q->input(1) : "");
      node.inputs.push_back(match.q != nullptr ? match.q->input(2) : "");
    }
    if (!bias.empty()) node.inputs.push_back(bias);
    node.outputs = match.q != nullptr ? match.q->outputs : match.op->outputs;
    node.attributes["trans_b"] = int64_t{match.trans_b ? 1 : 0};
    if (match.activation != nullptr) AddActivationAttributes(*match.activation, &node);
    return node;
  }

  struct PoolMatch {
    const Node* pool = nullptr;
    const Node* dq_x = nullptr;
    // Why the pattern stays in float, or "".
    std::string inexact;
  };

  // Q(pool(DQ(x))) with per-tensor parameters and the same integer type in and out.
  std::optional<PoolMatch> MatchPool(const Node& q) const {
    static const char* const kPools[] = {"MaxPool", "AveragePool", "GlobalMaxPool",
                                         "GlobalAveragePool"};
    const Node* pool = Producer(q.input(0));
    if (pool == nullptr || !pool->domain.empty() || Readers(q.input(0)) != 1 ||
        std::find(std::begin(kPools), std::end(kPools), pool->op_type) == std::end(kPools) ||
        (pool->outputs.size() > 1 && !pool->outputs[1].empty())) {
      return std::nullopt;
    }
    PoolMatch match;
    match.pool = pool;
    match.dq_x = Producer(pool->input(0));
    if (!IsActivationDequantize(match.dq_x) ||
        !IsScalarConstant(in_, q.input(1), DataType::kFloat32)) {
      return std::nullopt;
    }
    const DataType x_type = *in_.TypeOf(match.dq_x->input(0));
    const DataType y_type = q.input(2).empty() ? DataType::kUint8 : *in_.TypeOf(q.input(2));
    if (x_type != y_type || (!q.input(2).empty() && !IsScalarConstant(in_, q.input(2), y_type))) {
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
          match.dq_x->input(2).empty() ? nullptr : in_.FindConstant(match.dq_x->input(2));
      const bool zero_is_zero =
          zero == nullptr || (x_type == DataType::kUint8 ? zero->data<uint8_t>()[0] == 0
                                                         : zero->data<int8_t>()[0] == 0);
      if (padded && !zero_is_zero) {
        match.inexact = "average counting padding with a non-zero input zero point";
      }
    }
    return match;
  }

  // Q(op(DQ(x))) for an op that only moves values (Flatten, Reshape, Transpose, Squeeze,
  // Unsqueeze) with the same scale and zero point on both sides: the op on x's integers gives the
  // same result. MaxPool is left to MatchPool (oneDNN's int8 pooling).
  const Node* MatchValuePreserving(const Node& q) const {
    static const char* const kOps[] = {"Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze"};
    const Node* op = Producer(q.input(0));
    if (op == nullptr || !op->domain.empty() || Readers(q.input(0)) != 1 || op->inputs.empty() ||
        std::find(std::begin(kOps), std::end(kOps), op->op_type) == std::end(kOps)) {
      return nullptr;
    }
    const Node* dq = Producer(op->input(0));
    if (!IsActivationDequantize(dq) || !IsScalarConstant(in_, q.input(1), DataType::kFloat32)) {
      return nullptr;
    }
    const DataType type = *in_.TypeOf(dq->input(0));
    const Tensor& x_scale = *in_.FindConstant(dq->input(1));
    const Tensor& y_scale = *in_.FindConstant(q.input(1));
    if (x_scale.data<float>()[0] != y_scale.data<float>()[0]) return nullptr;
    auto zero = [&](const std::string& name, DataType t) -> std::optional<int> {
      if (name.empty()) return t == DataType::kUint8 ? std::optional<int>(0) : std::nullopt;
      const Tensor* z = in_.FindConstant(name);
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
  const Node* MatchConcat(const Node& q) const {
    const Node* concat = Producer(q.input(0));
    if (concat == nullptr || !concat->domain.empty() || concat->op_type != "Concat" ||
        Readers(q.input(0)) != 1 || concat->inputs.empty() || !IsActivationQuantize(q)) {
      return nullptr;
    }
    for (const std::string& input : concat->inputs) {
      if (!IsActivationDequantize(Producer(input))) return nullptr;
    }
    return concat;
  }

  struct AddMatch {
    const Node* add = nullptr;
    const Node* relu = nullptr;
    const Node* dq_a = nullptr;
    const Node* dq_b = nullptr;
  };

  // Q([Relu](Add(DQ(a), DQ(b)))) with per-tensor parameters: the residual Add of a quantized
  // ResNet block.
  std::optional<AddMatch> MatchAdd(const Node& q) const {
    if (!IsActivationQuantize(q)) return std::nullopt;
    AddMatch match;
    const Node* node = Producer(q.input(0));
    if (node == nullptr || Readers(q.input(0)) != 1) return std::nullopt;
    if (node->op_type == "Relu" && node->domain.empty()) {
      match.relu = node;
      node = Producer(node->input(0));
      if (node == nullptr || Readers(match.relu->input(0)) != 1) return std::nullopt;
    }
    if (node->op_type != "Add" || !node->domain.empty() || node->inputs.size() != 2) {
      return std::nullopt;
    }
    match.add = node;
    match.dq_a = Producer(node->input(0));
    match.dq_b = Producer(node->input(1));
    if (!IsActivationDequantize(match.dq_a) || !IsActivationDequantize(match.dq_b)) {
      return std::nullopt;
    }
    return match;
  }

  Node BuildInt8Add(const AddMatch& match, const Node& q) const {
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

  Node BuildInt8Pool(const PoolMatch& match, const Node& q) const {
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

  const Node* Producer(const std::string& value) const {
    auto it = producer_.find(value);
    return it == producer_.end() ? nullptr : &in_.nodes[it->second];
  }
  size_t IndexOf(const Node* node) const { return node - in_.nodes.data(); }
  int Readers(const std::string& value) const {
    auto it = readers_.find(value);
    return it == readers_.end() ? 0 : it->second;
  }

  // DequantizeLinear of a per-tensor activation: non-constant input, scalar constant parameters.
  bool IsActivationDequantize(const Node* dq) const {
    if (dq == nullptr || dq->op_type != "DequantizeLinear" || !dq->domain.empty()) return false;
    if (in_.FindConstant(dq->input(0)) != nullptr) return false;
    const std::optional<DataType> type = in_.TypeOf(dq->input(0));
    if (type != DataType::kUint8 && type != DataType::kInt8) return false;
    return IsScalarConstant(in_, dq->input(1), DataType::kFloat32) &&
           (dq->input(2).empty() || IsScalarConstant(in_, dq->input(2), *type));
  }

  // DequantizeLinear of constant int8 weights with zero points 0, per tensor or along axis 0.
  bool IsWeightDequantize(const Node* dq) const {
    if (dq == nullptr || dq->op_type != "DequantizeLinear" || !dq->domain.empty()) return false;
    const Tensor* w = in_.FindConstant(dq->input(0));
    const Tensor* scale = in_.FindConstant(dq->input(1));
    if (w == nullptr || w->type() != DataType::kInt8 || w->rank() < 3 || scale == nullptr ||
        scale->type() != DataType::kFloat32) {
      return false;
    }
    const bool per_channel = scale->element_count() != 1;
    if (per_channel && (scale->rank() != 1 || scale->dim(0) != w->dim(0) ||
                        dq->GetInt("axis", 1).value_or(1) != 0)) {
      return false;
    }
    return HasZeroWeightZeroPoints(*dq);
  }

  std::optional<Match> MatchConv(const Node& q) const {
    if (!IsActivationQuantize(q)) return std::nullopt;
    Match match;
    const Node* node = Producer(q.input(0));
    if (node == nullptr || Readers(q.input(0)) != 1) return std::nullopt;
    if (IsFusableActivation(*node)) {
      match.activation = node;
      node = Producer(node->input(0));
      if (node == nullptr || Readers(match.activation->input(0)) != 1) return std::nullopt;
    }
    if (node->op_type != "Conv" || !node->domain.empty() || node->inputs.size() < 2) {
      return std::nullopt;
    }
    match.conv = node;
    match.dq_x = Producer(node->input(0));
    match.dq_w = Producer(node->input(1));
    if (!IsActivationDequantize(match.dq_x) || !IsWeightDequantize(match.dq_w)) {
      return std::nullopt;
    }
    if (!node->input(2).empty()) {
      if (in_.FindConstant(node->input(2)) != nullptr) {
        match.bias_constant = node->input(2);
      } else {
        const Node* dq_b = Producer(node->input(2));
        if (dq_b == nullptr || dq_b->op_type != "DequantizeLinear" ||
            in_.FindConstant(dq_b->input(0)) == nullptr ||
            in_.FindConstant(dq_b->input(1)) == nullptr ||
            (!dq_b->input(2).empty() && in_.FindConstant(dq_b->input(2)) == nullptr)) {
          return std::nullopt;
        }
        match.dq_b = dq_b;
      }
    }
    match.absorbed.push_back(IndexOf(match.conv));
    if (match.activation != nullptr) match.absorbed.push_back(IndexOf(match.activation));
    return match;
  }

  // The bias in real units, as a float constant of `graph` (computed once here).
  std::string RealBias(const Match& match, Graph* graph) const {
    return RealBiasOf(match.conv->input(2), match.conv->outputs[0], graph);
  }

  // The bias value `input` of the layer producing `output` in real units: the float constant
  // itself, or its DequantizeLinear computed once as a float constant of `graph`.
  std::string RealBiasOf(const std::string& input, const std::string& output, Graph* graph) const {
    if (in_.FindConstant(input) != nullptr) return input;
    const Node& dq_b = *Producer(input);
    const Tensor& values = *in_.FindConstant(dq_b.input(0));
    const Tensor& scale = *in_.FindConstant(dq_b.input(1));
    const Tensor* zero = dq_b.input(2).empty() ? nullptr : in_.FindConstant(dq_b.input(2));
    std::vector<float> real(values.element_count());
    for (int64_t i = 0; i < values.element_count(); ++i) {
      const int64_t c = scale.element_count() == 1 ? 0 : i;
      int64_t q = values.type() == DataType::kInt32   ? values.data<int32_t>()[i]
                  : values.type() == DataType::kInt8  ? values.data<int8_t>()[i]
                  : values.type() == DataType::kUint8 ? values.data<uint8_t>()[i]
                                                      : 0;
      if (zero != nullptr && zero->type() == DataType::kInt32) q -= zero->data<int32_t>()[c];
      real[i] = static_cast<float>(q) * scale.data<float>()[c];
    }
    std::string name = absl::StrCat(output, "/int8_bias");
    while (graph->constants.contains(name)) name += "_";
    graph->constants.emplace(name, Tensor::FromVector<float>(values.shape(), real));
    graph->value_types[name] = DataType::kFloat32;
    return name;
  }

  // The Int8Conv node of `match`, its bias's constant added to `graph`; with no graph, the node
  // without its bias (enough for ComputedExactly).
  Node BuildInt8Conv(const Match& match, const Node& q, Graph* graph) const {
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
      node.inputs.push_back(RealBias(match, graph));
    }
    node.outputs = q.outputs;
    if (match.activation != nullptr) AddActivationAttributes(*match.activation, &node);
    return node;
  }

  // The fused activation as the int8 kernels read it: "activation" (the op type), and
  // "activation_alpha" / "activation_beta" (LeakyRelu's alpha; Clip's bounds).
  void AddActivationAttributes(const Node& a, Node* node) const {
    node->attributes["activation"] = a.op_type;
    float alpha = 0.0f, beta = 0.0f;
    if (a.op_type == "LeakyRelu") alpha = a.GetFloat("alpha", 0.01f).value_or(0.01f);
    if (a.op_type == "Clip") {
      alpha = a.GetFloat("min", -3.4028234e38f).value_or(0.0f);
      beta = a.GetFloat("max", 3.4028234e38f).value_or(0.0f);
      if (a.inputs.size() > 1 && !a.input(1).empty()) {
        alpha = in_.FindConstant(a.input(1))->data<float>()[0];
      }
      if (a.inputs.size() > 2 && !a.input(2).empty()) {
        beta = in_.FindConstant(a.input(2))->data<float>()[0];
      }
    }
    node->attributes["activation_alpha"] = alpha;
    node->attributes["activation_beta"] = beta;
  }

  static void DropUnreadDequantizes(Graph* graph) {
    bool changed = true;
    while (changed) {
      changed = false;
      absl::flat_hash_set<std::string> read;
      for (const Node& node : graph->nodes) read.insert(node.inputs.begin(), node.inputs.end());
      for (const ValueInfo& output : graph->outputs) read.insert(output.name);
      std::vector<Node> kept;
      for (Node& node : graph->nodes) {
        if (node.op_type == "DequantizeLinear" && node.domain.empty() &&
            !read.contains(node.outputs[0])) {
          changed = true;
          continue;
        }
        kept.push_back(std::move(node));
      }
      graph->nodes = std::move(kept);
    }
  }

  const Graph& in_;
  absl::flat_hash_map<std::string, size_t> producer_;
  absl::flat_hash_map<std::string, int> readers_;
  absl::flat_hash_map<std::string, size_t> first_reader_;
};

}  // namespace

Int8Lowering LowerQdqToInt8(const Graph& graph) { return Lowerer(graph).Run(); }

}  // namespace octet
