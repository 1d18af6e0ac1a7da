#include "engine/runtime/lowering/qdq_reader.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/runtime/kernel_registry.h"

namespace octet {

bool QdqReader::IsScalarConstant(const std::string& name, DataType type) const {
  const Tensor* t = in_.FindConstant(name);
  return t != nullptr && t->type() == type && t->element_count() == 1;
}

QdqReader::QdqReader(const Graph& graph) : in_(graph) {
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

const Node* QdqReader::Producer(const std::string& value) const {
  auto it = producer_.find(value);
  return it == producer_.end() ? nullptr : &in_.nodes[it->second];
}

int QdqReader::Readers(const std::string& value) const {
  auto it = readers_.find(value);
  return it == readers_.end() ? 0 : it->second;
}

const Node* QdqReader::SoleReader(const std::string& value) const {
  auto it = first_reader_.find(value);
  return it == first_reader_.end() ? nullptr : &in_.nodes[it->second];
}

bool QdqReader::IsActivationQuantize(const Node& q) const {
  return q.op_type == "QuantizeLinear" && q.domain.empty() &&
         IsScalarConstant(q.input(1), DataType::kFloat32) &&
         (q.input(2).empty() || IsScalarConstant(q.input(2), DataType::kUint8) ||
          IsScalarConstant(q.input(2), DataType::kInt8));
}

bool QdqReader::IsActivationDequantize(const Node* dq) const {
  if (dq == nullptr || dq->op_type != "DequantizeLinear" || !dq->domain.empty()) return false;
  if (in_.FindConstant(dq->input(0)) != nullptr) return false;
  const std::optional<DataType> type = in_.TypeOf(dq->input(0));
  if (type != DataType::kUint8 && type != DataType::kInt8) return false;
  return IsScalarConstant(dq->input(1), DataType::kFloat32) &&
         (dq->input(2).empty() || IsScalarConstant(dq->input(2), *type));
}

bool QdqReader::IsWeightDequantize(const Node* dq) const {
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

bool QdqReader::IsMatrixWeightDequantize(const Node* dq, int64_t column_axis) const {
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

bool QdqReader::HasZeroWeightZeroPoints(const Node& dq) const {
  if (dq.input(2).empty()) return true;
  const Tensor* zero = in_.FindConstant(dq.input(2));
  if (zero == nullptr || zero->type() != DataType::kInt8) return false;
  for (int8_t z : zero->values<int8_t>()) {
    if (z != 0) return false;
  }
  return true;
}

bool QdqReader::IsBiasDequantize(const Node* dq_b) const {
  return dq_b != nullptr && dq_b->op_type == "DequantizeLinear" && dq_b->domain.empty() &&
         in_.FindConstant(dq_b->input(0)) != nullptr &&
         in_.FindConstant(dq_b->input(1)) != nullptr &&
         (dq_b->input(2).empty() || in_.FindConstant(dq_b->input(2)) != nullptr);
}

bool QdqReader::IsFusableActivation(const Node& node) const {
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

std::string QdqReader::RealBiasOf(const std::string& input, const std::string& output,
                                  Graph* graph) const {
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

void QdqReader::AddActivationAttributes(const Node& a, Node* node) const {
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

absl::Status QdqReader::ComputedExactly(const Node& node) const {
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

}  // namespace octet
