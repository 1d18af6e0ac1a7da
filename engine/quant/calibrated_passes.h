// The quantization pipeline's passes that run the model on calibration data to choose weights and
// biases: GPTQ rounding and empirical bias correction.
#ifndef OCTET_ENGINE_QUANT_CALIBRATED_PASSES_H_
#define OCTET_ENGINE_QUANT_CALIBRATED_PASSES_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/ir/graph.h"
#include "engine/quant/qdq_insertion.h"
#include "engine/quant/quantization_config.h"
#include "engine/quant/sample_set.h"

namespace octet {

// What a pass needs of the quantization request.
struct PassContext {
  const QuantizationConfig& config;
  int num_threads = 1;
  // Where each batch runs (QuantizationRequest::batch_runner).
  BatchRunner batch_runner;
  // Called between pieces of work; an error (CANCELLED) stops the pass.
  std::function<absl::Status()> progress;
};

// GPTQ rounding (Rounding::kGptq): each Conv/Gemm/MatMul's weights rounded against the Gram
// matrix of the layer's float inputs over at most 256 calibration samples, drawing at most
// 4096 input vectors per layer and batch. Memory is bounded: the layers are taken in groups
// whose statistics fit 1 GiB, one pass over the samples per group, and a layer whose input
// vectors are longer than 8192 values (a 512 MiB Gram matrix) keeps nearest rounding, as do
// weights it cannot treat (shared by several layers, 3-D convolutions, a Gemm with transA);
// each such layer is named in `notes`. A layer input that `activations` quantizes (per tensor)
// enters the Gram matrix as the quantized model reads it, quantized and dequantized: GPTQ's
// compensation leans on how the inputs correlate, and must not lean on differences the
// activations' rounding erases (small channels that round to a level or two).
absl::StatusOr<std::map<std::string, QuantizedTensor>> RoundWeightsByGptq(
    const Graph& graph, const QuantizationSites& sites, const SampleSet& calibration,
    const std::map<std::string, QuantizationParams>& activations,
    const WeightQuantizationSpec& spec, const PassContext& context,
    std::vector<std::string>* notes);

// Per activation of `activations` (per-tensor parameters), how much quantizing it (quantize, then
// dequantize) moves the mean of each channel (axis 1), E[Q(x) - x], over at most 256 calibration
// samples: one pass of the float model. Bias correction subtracts W_q E[Q(x)] - W E[x], so that
// what rounding and clipping shift the layer's input by on average (a constant region, as the
// black border of a letterboxed image, rounds to the same level everywhere) does not shift its
// output.
absl::StatusOr<std::map<std::string, std::vector<double>>> QuantizationChannelShifts(
    const Graph& graph, const std::map<std::string, QuantizationParams>& activations,
    const SampleSet& calibration, const PassContext& context);

// Empirical bias correction, layer by layer (QuantizationConfig::empirical_bias_correction):
// returns the graph with every Conv/Gemm bias corrected; `options` ends up holding the shifts.
absl::StatusOr<QdqGraph> CorrectBiasesEmpirically(const Graph& graph,
                                                  const QuantizationSites& sites,
                                                  const SampleSet& calibration,
                                                  const PassContext& context, QdqGraph quantized,
                                                  QdqOptions* options);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_CALIBRATED_PASSES_H_
