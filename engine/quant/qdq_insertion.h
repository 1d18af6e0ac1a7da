// Where a float graph is quantized, and the QDQ graph that quantizes it there (ONNX's standard
// quantized form: QuantizeLinear -> DequantizeLinear pairs on activations, int8 initializers
// behind a DequantizeLinear for weights, int32 biases).
#ifndef OCTET_ENGINE_QUANT_QDQ_INSERTION_H_
#define OCTET_ENGINE_QUANT_QDQ_INSERTION_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/ir/graph.h"
#include "engine/quant/observers/range_observer.h"
#include "engine/quant/weight_quantizer.h"

namespace octet {

// One quantized layer: a Conv, Gemm, MatMul, Add, Concat or pooling node and the activation
// chain fused after it (Relu, Clip, HardSwish, LeakyRelu), with no quantization in between
// (whitepaper 2.2.1).
struct QuantizedLayer {
  size_t node = 0;
  std::string name;
  std::string op_type;
  // The value the layer produces: the end of its fused activation chain.
  std::string output;
  // The constant weight input (Conv/Gemm/MatMul), or -1, and the axis of its output channels.
  int weight_input = -1;
  int64_t weight_channel_axis = 0;
  // A Conv with one filter per input channel (group == input channels == output channels, more
  // than one), and a pointwise layer (a 1x1 Conv of one group, stride 1 and no padding; Gemm;
  // MatMul): the layers WeightQuantizationSpec::depthwise_bits and pointwise_bits apply to.
  bool depthwise = false;
  bool pointwise = false;
  // The constant 1-D bias input that becomes int32 (Conv, Gemm with alpha = beta = 1), or -1.
  int bias_input = -1;
  // Whether a 1-D bias may be given to the layer (bias correction): it has one, or it is a Conv,
  // or a Gemm without C whose C would enter plainly (transA = 0, alpha = beta = 1).
  bool takes_bias = false;
};

struct QuantizationSites {
  std::vector<QuantizedLayer> layers;
  // The float activations to quantize, in graph order: the non-constant inputs of every layer,
  // and every layer's output unless it is a model output (the model's results stay float).
  std::vector<std::string> activations;
  // (output, input) pairs of activations, in graph order, where the output must be quantized
  // with the input's parameters: a MaxPool and data movement (Flatten, Reshape, Transpose,
  // Squeeze, Unsqueeze) only pick or move values, so with the input's grid the quantized output
  // is exactly the op applied to the quantized input (no rounding added, and the int8 runtime
  // runs the op on the integers without requantizing).
  std::vector<std::pair<std::string, std::string>> same_params;
  // Activations whose every reader applies the same saturating function to them, directly or
  // through ops that only move, resample or copy values (Cast to float, Identity, Resize,
  // Upsample, Reshape, Transpose, Flatten, Squeeze, Unsqueeze, MaxPool): where their
  // quantization error counts (RangeTarget::error_space). Absent: in the values themselves.
  std::map<std::string, ErrorSpace> error_spaces;
};

QuantizationSites FindQuantizationSites(const Graph& graph);

// `spec` as it applies to `layer`'s weights: depthwise and pointwise layers take
// spec.depthwise_bits and spec.pointwise_bits when set.
WeightQuantizationSpec LayerWeightSpec(const WeightQuantizationSpec& spec,
                                       const QuantizedLayer& layer);

struct QdqOptions {
  bool quantize_weights = true;
  // Activation params by name (from calibration); when empty, activations stay float.
  std::map<std::string, QuantizationParams> activations;
  WeightQuantizationSpec weight_spec;
  // Bias correction (Nagel et al. 2019; "beyond the paper" in QUANTIZATION.md): for each Conv and
  // Gemm whose input has per-channel means here, the bias absorbs the expected error the weight
  // quantization adds, (W_q - W) E[x], so that the layer's output mean stays the float one.
  std::map<std::string, std::vector<double>> input_channel_means;
  // Per layer input, how much its quantization moves each channel's mean, E[Q(x) - x]
  // (QuantizationChannelShifts): with it the correction is W_q E[Q(x)] - W E[x], the input's
  // rounding and clipping included.
  std::map<std::string, std::vector<double>> input_quantization_shifts;
  // Per Conv/Gemm output (the node's own, before any activation), a per-channel amount the
  // quantized layer's output is measured to exceed the float one by: subtracted from the bias.
  std::map<std::string, std::vector<double>> output_channel_shifts;
  // Quantized weights chosen elsewhere (GPTQ rounding), by float weight name: used as they are
  // instead of quantizing the weights by weight_spec.
  std::map<std::string, QuantizedTensor> weight_overrides;
};

struct QdqGraph {
  Graph graph;
  // Every quantized constant (weights, and biases as int32) by its float name.
  std::map<std::string, QuantizationParams> constants;
};

// `graph` with QDQ inserted at `sites`. Biases become int32 (scale s_x * s_w) where the layer's
// input activation and its weights are both quantized. The result's opset is at least 13.
absl::StatusOr<QdqGraph> InsertQdq(const Graph& graph, const QuantizationSites& sites,
                                   const QdqOptions& options);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_QDQ_INSERTION_H_
