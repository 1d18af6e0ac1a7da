#include "engine/passes/batch_norm_folding.h"

#include <cmath>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet {
namespace {

// A float32 constant of exactly `count` elements, or nullptr.
const Tensor* FloatConstant(const Graph& graph, const std::string& name, int64_t count) {
  const Tensor* t = graph.FindConstant(name);
  if (t == nullptr || t->type() != DataType::kFloat32) return nullptr;
  if (count >= 0 && t->element_count() != count) return nullptr;
  return t;
}

std::string UniqueName(const Graph& graph, const std::string& base) {
  std::string name = base;
  for (int i = 1; graph.constants.contains(name) || graph.value_types.contains(name); ++i) {
    name = absl::StrCat(base, "_", i);
  }
  return name;
}

// Folds `bn` into `producer` when possible; returns whether it did.
absl::StatusOr<bool> TryFold(Graph* graph, Node* producer, const Node& bn) {
  const bool is_conv = producer->op_type == "Conv";
  const Tensor* weights = FloatConstant(*graph, producer->input(1), -1);
  if (weights == nullptr || weights->rank() < 2) return false;
  int64_t channels;
  bool rows = true;  // channel c's weights are a contiguous block (else a strided column)
  if (is_conv) {
    channels = weights->dim(0);
  } else {
    OCTET_ASSIGN_OR_RETURN(int64_t trans_a, producer->GetInt("transA", 0));
    OCTET_ASSIGN_OR_RETURN(int64_t trans_b, producer->GetInt("transB", 0));
    OCTET_ASSIGN_OR_RETURN(float alpha, producer->GetFloat("alpha", 1.0f));
    OCTET_ASSIGN_OR_RETURN(float beta, producer->GetFloat("beta", 1.0f));
    if (trans_a != 0 || alpha != 1.0f || beta != 1.0f || weights->rank() != 2) return false;
    rows = trans_b != 0;
    channels = rows ? weights->dim(0) : weights->dim(1);
  }
  const Tensor* gamma = FloatConstant(*graph, bn.input(1), channels);
  const Tensor* beta = FloatConstant(*graph, bn.input(2), channels);
  const Tensor* mean = FloatConstant(*graph, bn.input(3), channels);
  const Tensor* var = FloatConstant(*graph, bn.input(4), channels);
  const Tensor* bias =
      producer->input(2).empty() ? nullptr : FloatConstant(*graph, producer->input(2), channels);
  if (gamma == nullptr || beta == nullptr || mean == nullptr || var == nullptr ||
      (!producer->input(2).empty() && bias == nullptr)) {
    return false;
  }
  OCTET_ASSIGN_OR_RETURN(float epsilon, bn.GetFloat("epsilon", 1e-5f));
  std::vector<float> factor(channels);
  for (int64_t c = 0; c < channels; ++c) {
    const float sigma = std::sqrt(var->data<float>()[c] + epsilon);
    if (!(sigma > 0.0f) || !std::isfinite(sigma)) return false;
    factor[c] = gamma->data<float>()[c] / sigma;
  }
  Tensor folded_weights = weights->Clone();
  float* w = folded_weights.data<float>();
  const int64_t per_channel = weights->element_count() / channels;
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t i = 0; i < per_channel; ++i) {
      const int64_t index = rows ? c * per_channel + i : i * channels + c;
      w[index] *= factor[c];
    }
  }
  std::vector<float> folded_bias(channels);
  for (int64_t c = 0; c < channels; ++c) {
    const float b = bias == nullptr ? 0.0f : bias->data<float>()[c];
    folded_bias[c] = (b - mean->data<float>()[c]) * factor[c] + beta->data<float>()[c];
  }
  const std::string weight_name =
      UniqueName(*graph, absl::StrCat(producer->input(1), "/bn_folded"));
  graph->constants.emplace(weight_name, std::move(folded_weights));
  graph->value_types[weight_name] = DataType::kFloat32;
  const std::string bias_name = UniqueName(*graph, absl::StrCat(bn.outputs[0], "/bn_folded_bias"));
  graph->constants.emplace(bias_name, Tensor::FromVector<float>({channels}, folded_bias));
  graph->value_types[bias_name] = DataType::kFloat32;
  producer->inputs.resize(3);
  producer->inputs[1] = weight_name;
  producer->inputs[2] = bias_name;
  producer->outputs[0] = bn.outputs[0];
  return true;
}

}  // namespace

absl::StatusOr<int> FoldBatchNorms(Graph* graph) {
  absl::flat_hash_map<std::string, int> readers;
  for (const Node& node : graph->nodes) {
    for (const std::string& input : node.inputs) ++readers[input];
  }
  for (const ValueInfo& output : graph->outputs) ++readers[output.name];
  absl::flat_hash_map<std::string, size_t> producer_of;
  for (size_t i = 0; i < graph->nodes.size(); ++i) {
    for (const std::string& output : graph->nodes[i].outputs) producer_of[output] = i;
  }
  std::vector<bool> removed(graph->nodes.size(), false);
  int folded = 0;
  for (size_t i = 0; i < graph->nodes.size(); ++i) {
    const Node& bn = graph->nodes[i];
    if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() != 5) continue;
    bool extra_outputs = false;
    for (size_t o = 1; o < bn.outputs.size(); ++o) extra_outputs |= !bn.outputs[o].empty();
    OCTET_ASSIGN_OR_RETURN(int64_t training, bn.GetInt("training_mode", 0));
    if (extra_outputs || training != 0) continue;
    auto it = producer_of.find(bn.input(0));
    if (it == producer_of.end() || readers[bn.input(0)] != 1) continue;
    Node& producer = graph->nodes[it->second];
    if ((producer.op_type != "Conv" && producer.op_type != "Gemm") || !producer.domain.empty() ||
        producer.outputs.size() != 1) {
      continue;
    }
    OCTET_ASSIGN_OR_RETURN(bool done, TryFold(graph, &producer, bn));
    if (!done) continue;
    removed[i] = true;
    ++folded;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < graph->nodes.size(); ++i) {
    if (!removed[i]) kept.push_back(std::move(graph->nodes[i]));
  }
  graph->nodes = std::move(kept);
  RemoveUnusedConstants(graph);
  return folded;
}

void RemoveUnusedConstants(Graph* graph) {
  absl::flat_hash_set<std::string> used;
  for (const Node& node : graph->nodes) used.insert(node.inputs.begin(), node.inputs.end());
  for (const ValueInfo& output : graph->outputs) used.insert(output.name);
  std::vector<std::string> unused;
  for (const auto& [name, tensor] : graph->constants) {
    if (!used.contains(name)) unused.push_back(name);
  }
  for (const std::string& name : unused) {
    graph->constants.erase(name);
    graph->value_types.erase(name);
  }
}

}  // namespace octet
