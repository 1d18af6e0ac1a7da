#include "engine/quant/qdq_insertion.h"

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet {
namespace {

constexpr int64_t kOnnxFloat = 1;  // TensorProto.DataType FLOAT

bool IsLayerOp(const std::string& op) {
  static const char* const kOps[] = {
      "Conv", "Gemm", "MatMul", "Add", "Concat", "AveragePool", "GlobalAveragePool", "MaxPool"};
  return std::find(std::begin(kOps), std::end(kOps), op) != std::end(kOps);
}

bool IsFusableActivation(const Graph& graph, const Node& node) {
  if (node.op_type == "Relu" || node.op_type == "HardSwish" || node.op_type == "LeakyRelu") {
    return true;
  }
  if (node.op_type != "Clip") return false;
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    if (!node.inputs[i].empty() && graph.FindConstant(node.inputs[i]) == nullptr) return false;
  }
  return true;
}

bool IsFloatConstant(const Graph& graph, const std::string& name) {
  const Tensor* t = graph.FindConstant(name);
  return t != nullptr && t->type() == DataType::kFloat32;
}

// The float bias of `layer` minus (W_q - W) E[x], or nullopt when the means do not fit the
// weights. Conv weights are [M, C/groups, k...]; Gemm weights [N, K] (transB) or [K, N].
std::optional<Tensor> CorrectedBias(const Graph& graph, const Node& node,
                                    const QuantizedLayer& layer, const Tensor& weights,
                                    const Tensor& dequantized, const std::vector<double>& means,
                                    const std::vector<double>* shifts) {
  // E[Q(x)] per channel (E[x] without the input's shifts): what the quantized weights meet.
  std::vector<double> applied = means;
  if (shifts != nullptr && shifts->size() == means.size()) {
    for (size_t c = 0; c < applied.size(); ++c) applied[c] += (*shifts)[c];
  }
  const bool conv = node.op_type == "Conv";
  if (!conv && node.op_type != "Gemm") return std::nullopt;
  const int64_t outputs = weights.dim(layer.weight_channel_axis);
  std::vector<double> delta(outputs, 0.0);
  const float* w = weights.data<float>();
  const float* q = dequantized.data<float>();
  if (conv) {
    const int64_t groups = node.GetInt("group", 1).value_or(1);
    const int64_t per_group_in = weights.dim(1);
    const int64_t kernel = weights.element_count() / (outputs * per_group_in);
    if (groups < 1 || outputs % groups != 0 ||
        static_cast<int64_t>(means.size()) != per_group_in * groups) {
      return std::nullopt;
    }
    for (int64_t m = 0; m < outputs; ++m) {
      const int64_t group = m / (outputs / groups);
      for (int64_t c = 0; c < per_group_in; ++c) {
        const double mean = means[group * per_group_in + c];
        const double applied_mean = applied[group * per_group_in + c];
        for (int64_t k = 0; k < kernel; ++k) {
          const int64_t i = (m * per_group_in + c) * kernel + k;
          delta[m] += static_cast<double>(q[i]) * applied_mean - w[i] * mean;
        }
      }
    }
  } else {
    const int64_t inputs = weights.element_count() / outputs;
    if (static_cast<int64_t>(means.size()) != inputs) return std::nullopt;
    const bool rows = layer.weight_channel_axis == 0;
    for (int64_t n = 0; n < outputs; ++n) {
      for (int64_t k = 0; k < inputs; ++k) {
        const int64_t i = rows ? n * inputs + k : k * outputs + n;
        delta[n] += static_cast<double>(q[i]) * applied[k] - w[i] * means[k];
      }
    }
  }
  std::vector<float> bias(outputs, 0.0f);
  if (layer.bias_input >= 0) {
    const Tensor* b = graph.FindConstant(node.input(layer.bias_input));
    std::copy(b->data<float>(), b->data<float>() + outputs, bias.begin());
  }
  for (int64_t n = 0; n < outputs; ++n) bias[n] = static_cast<float>(bias[n] - delta[n]);
  return Tensor::FromVector<float>({outputs}, bias);
}

Tensor ScaleTensor(const QuantizationParams& params) {
  if (!params.per_channel()) return Tensor::FromVector<float>({}, {params.scales[0]});
  return Tensor::FromVector<float>({static_cast<int64_t>(params.scales.size())}, params.scales);
}

Tensor ZeroPointTensor(const QuantizationParams& params) {
  const Shape shape =
      params.per_channel() ? Shape{static_cast<int64_t>(params.zero_points.size())} : Shape{};
  if (params.format.type == DataType::kUint8) {
    return Tensor::FromVector<uint8_t>(
        shape, std::vector<uint8_t>(params.zero_points.begin(), params.zero_points.end()));
  }
  return Tensor::FromVector<int8_t>(
      shape, std::vector<int8_t>(params.zero_points.begin(), params.zero_points.end()));
}

// Where the values of `name` are read: the saturating function every reader applies (through
// value-moving ops), kValue when any reader uses the values otherwise, nullopt when nothing reads
// them.
std::optional<ErrorSpace> ReadSpace(
    const Graph& graph, const absl::flat_hash_map<std::string, std::vector<size_t>>& consumers,
    const absl::flat_hash_set<std::string>& model_outputs, const std::string& name, int depth = 0) {
  static const char* const kValueMoving[] = {"Identity",  "Resize",  "Upsample",
                                             "Reshape",   "Flatten", "Squeeze",
                                             "Unsqueeze", "MaxPool", "Transpose"};
  if (model_outputs.contains(name) || depth > 8) return ErrorSpace::kValue;
  const auto it = consumers.find(name);
  if (it == consumers.end()) return std::nullopt;
  std::optional<ErrorSpace> space;
  for (size_t index : it->second) {
    const Node& node = graph.nodes[index];
    std::optional<ErrorSpace> read;
    if (node.domain.empty() && (node.op_type == "Shape" || node.op_type == "Size")) {
      continue;  // reads no value
    }
    if (!node.domain.empty() || node.input(0) != name) {
      read = ErrorSpace::kValue;
    } else if (node.op_type == "Sigmoid") {
      read = ErrorSpace::kSigmoid;
    } else if (node.op_type == "Tanh") {
      read = ErrorSpace::kTanh;
    } else if ((std::find(std::begin(kValueMoving), std::end(kValueMoving), node.op_type) !=
                    std::end(kValueMoving) ||
                (node.op_type == "Cast" && node.GetInt("to", 0).value_or(0) == kOnnxFloat)) &&
               (node.outputs.size() == 1 || node.outputs[1].empty())) {
      read = ReadSpace(graph, consumers, model_outputs, node.outputs[0], depth + 1);
    } else {
      read = ErrorSpace::kValue;
    }
    if (!read.has_value()) continue;
    if (space.has_value() && *space != *read) return ErrorSpace::kValue;
    space = read;
  }
  return space;
}

// A 2-D 1x1 Conv of stride 1 and no padding (what Octet's exact 8-bit AVX2 pointwise kernel runs).
bool IsPlainPointwiseConv(const Node& node, const Tensor& w) {
  auto all = [](const absl::StatusOr<std::vector<int64_t>>& values, int64_t v) {
    return values.ok() &&
           std::all_of(values->begin(), values->end(), [v](int64_t x) { return x == v; });
  };
  const absl::StatusOr<std::string> auto_pad = node.GetString("auto_pad", "NOTSET");
  return w.rank() == 4 && w.dim(2) == 1 && w.dim(3) == 1 && all(node.GetInts("strides", {}), 1) &&
         all(node.GetInts("pads", {}), 0) && auto_pad.ok() &&
         (*auto_pad == "NOTSET" || *auto_pad == "VALID");
}

}  // namespace

WeightQuantizationSpec LayerWeightSpec(const WeightQuantizationSpec& spec,
                                       const QuantizedLayer& layer) {
  WeightQuantizationSpec result = spec;
  if (layer.depthwise) result.bits = spec.DepthwiseBits();
  if (layer.pointwise) result.bits = spec.PointwiseBits();
  result.depthwise_bits = result.pointwise_bits = 0;
  return result;
}

QuantizationSites FindQuantizationSites(const Graph& graph) {
  absl::flat_hash_map<std::string, std::vector<size_t>> consumers;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& input : graph.nodes[i].inputs) {
      if (!input.empty()) consumers[input].push_back(i);
    }
  }
  absl::flat_hash_set<std::string> model_outputs;
  for (const ValueInfo& output : graph.outputs) model_outputs.insert(output.name);
  // Values computed from constants alone (an exporter's Resize scales built by Concat, shapes):
  // not activations, whatever op makes them.
  absl::flat_hash_set<std::string> constant_derived;
  auto is_constant = [&](const std::string& name) {
    return graph.FindConstant(name) != nullptr || constant_derived.contains(name);
  };
  for (const Node& node : graph.nodes) {
    bool from_constants = !node.inputs.empty();
    for (const std::string& input : node.inputs) {
      from_constants &= input.empty() || is_constant(input);
    }
    if (from_constants) constant_derived.insert(node.outputs.begin(), node.outputs.end());
  }
  QuantizationSites sites;
  absl::flat_hash_set<std::string> chosen;
  auto choose = [&](const std::string& name) {
    if (name.empty() || is_constant(name)) return;
    if (graph.TypeOf(name).value_or(DataType::kFloat32) != DataType::kFloat32) return;
    if (chosen.insert(name).second) sites.activations.push_back(name);
  };
  for (size_t index = 0; index < graph.nodes.size(); ++index) {
    const Node& node = graph.nodes[index];
    // Layers compute float activations: not shapes or indices (a Concat of Shape slices that
    // sizes a Resize), whatever op makes them.
    if (!node.domain.empty() || !IsLayerOp(node.op_type) || node.outputs.size() != 1 ||
        constant_derived.contains(node.outputs[0]) ||
        graph.TypeOf(node.outputs[0]).value_or(DataType::kFloat32) != DataType::kFloat32) {
      continue;
    }
    QuantizedLayer layer;
    layer.node = index;
    layer.name = node.name.empty() ? node.outputs[0] : node.name;
    layer.op_type = node.op_type;
    const bool has_weights =
        node.op_type == "Conv" || node.op_type == "Gemm" || node.op_type == "MatMul";
    if (has_weights && IsFloatConstant(graph, node.input(1))) {
      const Tensor& w = *graph.FindConstant(node.input(1));
      layer.weight_input = 1;
      if (node.op_type == "Conv") {
        layer.weight_channel_axis = 0;
        const int64_t group = node.GetInt("group", 1).value_or(1);
        layer.depthwise = group > 1 && w.rank() >= 3 && w.dim(0) == group && w.dim(1) == 1;
        layer.pointwise = group == 1 && IsPlainPointwiseConv(node, w);
      } else if (node.op_type == "Gemm") {
        layer.weight_channel_axis = node.GetInt("transB", 0).value_or(0) != 0 ? 0 : 1;
      } else {
        layer.weight_channel_axis = std::max<int64_t>(w.rank() - 1, 0);
      }
      if (node.op_type != "Conv") layer.pointwise = true;
      const bool plain_gemm =
          node.op_type != "Gemm" || (node.GetInt("transA", 0).value_or(1) == 0 &&
                                     node.GetFloat("alpha", 1.0f).value_or(0) == 1.0f &&
                                     node.GetFloat("beta", 1.0f).value_or(0) == 1.0f);
      const Tensor* bias = graph.FindConstant(node.input(2));
      if (node.op_type != "MatMul" && plain_gemm && bias != nullptr &&
          bias->type() == DataType::kFloat32 && bias->rank() == 1 && w.rank() >= 2 &&
          bias->dim(0) == w.dim(layer.weight_channel_axis)) {
        layer.bias_input = 2;
      }
      layer.takes_bias = layer.bias_input >= 0 || node.op_type == "Conv" ||
                         (node.op_type == "Gemm" && plain_gemm && node.input(2).empty());
    }
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (static_cast<int>(i) == layer.weight_input || static_cast<int>(i) == layer.bias_input) {
        continue;
      }
      // Gemm's C stays float when it is not a quantizable bias.
      if (has_weights && i >= 2) continue;
      choose(node.inputs[i]);
    }
    // Follow the fused activation chain.
    std::string output = node.outputs[0];
    while (!model_outputs.contains(output)) {
      auto it = consumers.find(output);
      if (it == consumers.end() || it->second.size() != 1) break;
      const Node& next = graph.nodes[it->second[0]];
      if (!IsFusableActivation(graph, next) || next.input(0) != output) break;
      output = next.outputs[0];
    }
    layer.output = output;
    if (!model_outputs.contains(output)) choose(output);
    sites.layers.push_back(std::move(layer));
  }
  for (const std::string& activation : sites.activations) {
    const std::optional<ErrorSpace> space = ReadSpace(graph, consumers, model_outputs, activation);
    if (space.has_value() && *space != ErrorSpace::kValue) sites.error_spaces[activation] = *space;
  }
  static const char* const kValuePreserving[] = {"MaxPool",   "Flatten", "Reshape",
                                                 "Transpose", "Squeeze", "Unsqueeze"};
  for (const Node& node : graph.nodes) {
    if (!node.domain.empty() || node.inputs.empty() || node.outputs.empty() ||
        std::find(std::begin(kValuePreserving), std::end(kValuePreserving), node.op_type) ==
            std::end(kValuePreserving) ||
        (node.outputs.size() > 1 && !node.outputs[1].empty())) {  // MaxPool's indices
      continue;
    }
    if (chosen.contains(node.input(0)) && chosen.contains(node.outputs[0])) {
      sites.same_params.emplace_back(node.outputs[0], node.input(0));
    }
  }
  return sites;
}

namespace {

// Builds InsertQdq's graph: the activations' Q/DQ pairs, then each layer's quantized weights and
// bias, then the nodes in order with their inputs replaced.
class QdqInserter {
 public:
  QdqInserter(const Graph& graph, const QuantizationSites& sites, const QdqOptions& options)
      : graph_(graph), sites_(sites), options_(options) {
    Graph& out = result_.graph;
    out.inputs = graph.inputs;
    out.outputs = graph.outputs;
    out.constants = graph.constants;
    out.value_types = graph.value_types;
    out.opset = std::max<int64_t>(graph.opset, 13);
    out.producer_name = graph.producer_name;
  }

  absl::StatusOr<QdqGraph> Run() && {
    AddActivationQdq();
    for (const QuantizedLayer& layer : sites_.layers) {
      if (!options_.quantize_weights || layer.weight_input < 0) continue;
      OCTET_RETURN_IF_ERROR(QuantizeLayer(layer));
    }
    OCTET_RETURN_IF_ERROR(EmitNodes());
    // Float weights and biases that every reader now takes quantized are dropped.
    Graph& out = result_.graph;
    absl::flat_hash_set<std::string> used;
    for (const Node& node : out.nodes) used.insert(node.inputs.begin(), node.inputs.end());
    for (const ValueInfo& output : out.outputs) used.insert(output.name);
    for (const auto& [name, params] : result_.constants) {
      if (!used.contains(name)) out.constants.erase(name);
    }
    return std::move(result_);
  }

 private:
  // Per float weight name, its quantization and the DQ output that replaces it (a weight shared
  // by several layers is quantized once).
  struct QuantizedWeight {
    QuantizedTensor tensor;
    std::string dequantized;
  };

  std::string Unique(const std::string& base) const {
    const Graph& out = result_.graph;
    std::string name = base;
    for (int i = 1; out.value_types.contains(name) || out.constants.contains(name); ++i) {
      name = absl::StrCat(base, "_", i);
    }
    return name;
  }

  std::string AddConstant(const std::string& base, Tensor value) {
    const std::string name = Unique(base);
    result_.graph.value_types[name] = value.type();
    result_.graph.constants.emplace(name, std::move(value));
    return name;
  }

  Node MakeNode(const std::string& op_type, const std::string& name,
                std::vector<std::string> inputs, const std::string& output, DataType type) {
    Node node;
    node.op_type = op_type;
    node.name = name;
    node.inputs = std::move(inputs);
    node.outputs = {output};
    result_.graph.value_types[output] = type;
    return node;
  }

  // Activations: the name consumers read instead of each quantized value, and the Q/DQ nodes
  // that produce it.
  void AddActivationQdq() {
    for (const auto& [name, params] : options_.activations) {
      const std::string scale = AddConstant(absl::StrCat(name, "/scale"), ScaleTensor(params));
      const std::string zero_point =
          AddConstant(absl::StrCat(name, "/zero_point"), ZeroPointTensor(params));
      const std::string q = Unique(absl::StrCat(name, "/quantized"));
      const std::string dq = Unique(absl::StrCat(name, "/dequantized"));
      std::vector<Node>& nodes = qdq_after_[name];
      nodes.push_back(MakeNode("QuantizeLinear", absl::StrCat(name, "/QuantizeLinear"),
                               {name, scale, zero_point}, q, params.format.type));
      nodes.push_back(MakeNode("DequantizeLinear", absl::StrCat(name, "/DequantizeLinear"),
                               {q, scale, zero_point}, dq, DataType::kFloat32));
      dequantized_[name] = dq;
    }
  }

  // The layer's weights quantized (once per weight name) behind a DequantizeLinear.
  absl::StatusOr<const QuantizedWeight*> QuantizeWeightsOf(const QuantizedLayer& layer) {
    const Node& node = graph_.nodes[layer.node];
    const std::string& w_name = node.input(layer.weight_input);
    auto known = quantized_weights_.find(w_name);
    if (known != quantized_weights_.end()) return &known->second;
    auto chosen = options_.weight_overrides.find(w_name);
    absl::StatusOr<QuantizedTensor> q =
        chosen != options_.weight_overrides.end()
            ? absl::StatusOr<QuantizedTensor>(chosen->second)
            : QuantizeWeights(*graph_.FindConstant(w_name), layer.weight_channel_axis,
                              LayerWeightSpec(options_.weight_spec, layer));
    if (!q.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("weights '", w_name, "' of ", node.Describe(), ": ", q.status().message()));
    }
    const std::string values = AddConstant(absl::StrCat(w_name, "/quantized"), q->values);
    const std::string scale = AddConstant(absl::StrCat(w_name, "/scale"), ScaleTensor(q->params));
    const std::string zero_point =
        AddConstant(absl::StrCat(w_name, "/zero_point"), ZeroPointTensor(q->params));
    const std::string w_dq = Unique(absl::StrCat(w_name, "/dequantized"));
    Node dq = MakeNode("DequantizeLinear", absl::StrCat(w_name, "/DequantizeLinear"),
                       {values, scale, zero_point}, w_dq, DataType::kFloat32);
    if (q->params.per_channel()) dq.attributes["axis"] = q->params.axis;
    dq_before_[layer.node].push_back(std::move(dq));
    result_.constants[w_name] = q->params;
    return &quantized_weights_.emplace(w_name, QuantizedWeight{*std::move(q), w_dq}).first->second;
  }

  // The layer's float bias: its own, or corrected for the weights' expected error and the
  // measured output shift; nullopt without one. `name` is what the bias is stored as.
  std::optional<Tensor> FloatBias(const QuantizedLayer& layer, const QuantizedTensor& q,
                                  std::string* name) const {
    const Node& node = graph_.nodes[layer.node];
    const std::string& w_name = node.input(layer.weight_input);
    std::optional<Tensor> bias;
    if (layer.bias_input >= 0) {
      bias = *graph_.FindConstant(node.input(layer.bias_input));
      *name = node.input(layer.bias_input);
    }
    auto means = options_.input_channel_means.find(node.input(0));
    if (means != options_.input_channel_means.end() && layer.takes_bias) {
      const auto shifts = options_.input_quantization_shifts.find(node.input(0));
      std::optional<Tensor> corrected = CorrectedBias(
          graph_, node, layer, *graph_.FindConstant(w_name), DequantizeTensor(q), means->second,
          shifts != options_.input_quantization_shifts.end() ? &shifts->second : nullptr);
      if (corrected.has_value()) {
        bias = std::move(corrected);
        *name = absl::StrCat(node.outputs[0], "/corrected_bias");
      }
    }
    auto shift = options_.output_channel_shifts.find(node.outputs[0]);
    const int64_t out_channels = graph_.FindConstant(w_name)->dim(layer.weight_channel_axis);
    if (shift != options_.output_channel_shifts.end() && layer.takes_bias &&
        static_cast<int64_t>(shift->second.size()) == out_channels) {
      std::vector<float> shifted(out_channels, 0.0f);
      if (bias.has_value()) std::copy_n(bias->data<float>(), out_channels, shifted.begin());
      for (int64_t c = 0; c < out_channels; ++c) {
        shifted[c] = static_cast<float>(shifted[c] - shift->second[c]);
      }
      bias = Tensor::FromVector<float>({out_channels}, shifted);
      *name = absl::StrCat(node.outputs[0], "/corrected_bias");
    }
    return bias;
  }

  // The layer's weights and bias replaced by quantized ones behind DequantizeLinear nodes (the
  // bias stays float when the layer's input does).
  absl::Status QuantizeLayer(const QuantizedLayer& layer) {
    const Node& node = graph_.nodes[layer.node];
    const std::string& w_name = node.input(layer.weight_input);
    OCTET_ASSIGN_OR_RETURN(const QuantizedWeight* weight, QuantizeWeightsOf(layer));
    replaced_inputs_[layer.node].emplace_back(layer.weight_input, weight->dequantized);
    std::string bias_name;
    std::optional<Tensor> bias = FloatBias(layer, weight->tensor, &bias_name);
    if (!bias.has_value()) return absl::OkStatus();
    auto input_params = options_.activations.find(node.input(0));
    if (input_params == options_.activations.end()) {
      // The input stays float, so does the bias.
      if (bias_name != node.input(layer.bias_input)) {
        replaced_inputs_[layer.node].emplace_back(2, AddConstant(bias_name, *bias));
      }
      return absl::OkStatus();
    }
    absl::StatusOr<QuantizedTensor> b =
        QuantizeBias(*bias, input_params->second.scales[0], result_.constants[w_name]);
    if (!b.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bias '", bias_name, "' of ", node.Describe(), ": ", b.status().message()));
    }
    const std::string values = AddConstant(absl::StrCat(bias_name, "/quantized"), b->values);
    const std::string scale =
        AddConstant(absl::StrCat(bias_name, "/scale"), ScaleTensor(b->params));
    const std::string b_dq = Unique(absl::StrCat(bias_name, "/dequantized"));
    Node dq = MakeNode("DequantizeLinear", absl::StrCat(bias_name, "/DequantizeLinear"),
                       {values, scale}, b_dq, DataType::kFloat32);
    if (b->params.per_channel()) dq.attributes["axis"] = int64_t{0};
    dq_before_[layer.node].push_back(std::move(dq));
    replaced_inputs_[layer.node].emplace_back(2, b_dq);
    result_.constants[bias_name] = b->params;
    return absl::OkStatus();
  }

  void EmitQdqAfter(const std::string& value) {
    auto it = qdq_after_.find(value);
    if (it == qdq_after_.end()) return;
    for (Node& n : it->second) result_.graph.nodes.push_back(std::move(n));
    qdq_after_.erase(it);
  }

  // The nodes in order, each after its weights' and bias's DQ and followed by its outputs' Q/DQ.
  absl::Status EmitNodes() {
    for (const ValueInfo& input : graph_.inputs) EmitQdqAfter(input.name);
    for (size_t index = 0; index < graph_.nodes.size(); ++index) {
      auto before = dq_before_.find(index);
      if (before != dq_before_.end()) {
        for (Node& n : before->second) result_.graph.nodes.push_back(std::move(n));
      }
      Node node = graph_.nodes[index];
      for (std::string& input : node.inputs) {
        auto it = dequantized_.find(input);
        if (it != dequantized_.end()) input = it->second;
      }
      auto replaced = replaced_inputs_.find(index);
      if (replaced != replaced_inputs_.end()) {
        for (const auto& [i, name] : replaced->second) {
          if (static_cast<size_t>(i) >= node.inputs.size()) node.inputs.resize(i + 1);
          node.inputs[i] = name;
        }
      }
      const std::vector<std::string> outputs = node.outputs;
      result_.graph.nodes.push_back(std::move(node));
      for (const std::string& output : outputs) EmitQdqAfter(output);
    }
    if (!qdq_after_.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("no value '", qdq_after_.begin()->first, "' in the graph to quantize"));
    }
    return absl::OkStatus();
  }

  const Graph& graph_;
  const QuantizationSites& sites_;
  const QdqOptions& options_;
  QdqGraph result_;
  absl::flat_hash_map<std::string, std::string> dequantized_;
  absl::flat_hash_map<std::string, std::vector<Node>> qdq_after_;
  // Weights and biases, by node index: (input index, replacement) pairs and the DQ nodes to
  // place before the node.
  absl::flat_hash_map<size_t, std::vector<std::pair<int, std::string>>> replaced_inputs_;
  absl::flat_hash_map<size_t, std::vector<Node>> dq_before_;
  absl::flat_hash_map<std::string, QuantizedWeight> quantized_weights_;
};

}  // namespace

absl::StatusOr<QdqGraph> InsertQdq(const Graph& graph, const QuantizationSites& sites,
                                   const QdqOptions& options) {
  return QdqInserter(graph, sites, options).Run();
}

}  // namespace octet
