// What a post-training quantization run does (the engine's view of octet.v1.QuantizationConfig;
// the server converts). Defaults are Octet's defaults (ARCHITECTURE.md, "Quantization
// conventions").
#ifndef OCTET_ENGINE_QUANT_QUANTIZATION_CONFIG_H_
#define OCTET_ENGINE_QUANT_QUANTIZATION_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "engine/quant/observers/range_observer.h"
#include "engine/quant/weight_quantizer.h"

namespace octet {

enum class QuantizationMode {
  // Whitepaper 2.1.2: weights and activations; needs calibration data.
  kWeightsAndActivations,
  // Whitepaper 2.1.1: weights only; computation stays float, no calibration data needed.
  kWeightsOnly,
};

// No one method is best for every model (the results tables: MSE on the fixtures, percentile on
// ISNet's heavy-tailed decoders, entropy worst on a wake-word head): the job tries the candidates.
inline constexpr CalibrationMethod kDefaultCalibrationMethod = CalibrationMethod::kAuto;

inline WeightQuantizationSpec DefaultWeightSpec() {
  WeightQuantizationSpec spec;
  spec.rounding = Rounding::kGptq;
  return spec;
}

struct QuantizationConfig {
  QuantizationMode mode = QuantizationMode::kWeightsAndActivations;
  // Default: int8 symmetric per channel, narrow range, GPTQ rounding (the results table shows it
  // closest to float on both fixtures; without calibration data, nearest rounding).
  WeightQuantizationSpec weights = DefaultWeightSpec();
  // Default: uint8 asymmetric per tensor; kSymmetric gives int8 with zero point 0.
  QuantizationScheme activation_scheme = QuantizationScheme::kAsymmetric;
  CalibrationOptions calibration{kDefaultCalibrationMethod};
  // Bias correction of the weights' expected quantization error on Conv/Gemm outputs (needs
  // calibration data; QdqOptions::input_channel_means).
  bool bias_correction = true;
  // Empirical bias correction (Nagel et al. 2019, section 4.2), layer by layer in graph order:
  // each Conv/Gemm bias absorbs the difference between the per-channel means of its output in the
  // float model and in the simulated quantized one whose earlier layers are already corrected, the
  // shift activation clipping and rounding leave (QdqOptions::output_channel_shifts). One pass
  // over at most 256 calibration samples per layer.
  bool empirical_bias_correction = false;
  int batch_size = 32;
  int max_batches = 100;
  // The output the evaluation's summary figures are of; "" means the first float32 one.
  std::string evaluation_output;
  // The class axis of every output (negative from the end); unset: each output's shape says
  // (output_agreement.h). Single-channel maps agree where both values are above the threshold or
  // both are not.
  std::optional<int64_t> evaluation_class_axis;
  float evaluation_threshold = 0.5f;
  // The CPU the model is made for ("avx2", "vnni"; "" when not said) and how it was chosen, for
  // the report. The weights' default precision follows it (DefaultWeightBits).
  std::string target_cpu;
  std::string target_cpu_reason;
};

// The weight precision that runs exactly on a CPU's int8 kernels: 8 bits where u8 x s8 products
// are summed in 32 bits (VNNI), 7 where oneDNN sums pairs of them in 16 bits (AVX2 without VNNI),
// as ONNX Runtime's and PyTorch's reduce_range advise for such CPUs.
inline int DefaultWeightBits(bool vnni) { return vnni ? 8 : 7; }
// On AVX2 without VNNI, depthwise and pointwise layers also run exactly with 8-bit weights, on
// Octet's own kernels (16-bit products), slower than oneDNN's 7-bit ones: the default job gives
// them 8 bits only where 7 leave an output below this SQNR against float (report.precision).
inline constexpr double kPrecisionNeededBelowDb = 20.0;

// What weights.bits 0 (the target's default) means for a target with or without VNNI: bits from
// DefaultWeightBits, and without VNNI 8 bits where needed for the depthwise and pointwise layers
// (an explicitly set bits_where_needed is kept).
inline void ApplyTargetWeightDefaults(bool vnni, WeightQuantizationSpec* weights) {
  weights->bits = DefaultWeightBits(vnni);
  if (!vnni && weights->bits_where_needed == 0) weights->bits_where_needed = 8;
}

// INVALID_ARGUMENT naming the first field out of range.
absl::Status ValidateConfig(const QuantizationConfig& config);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_QUANTIZATION_CONFIG_H_
