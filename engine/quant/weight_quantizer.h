// Quantization of constant tensors (weights): the whitepaper's three quantizers — uniform affine,
// uniform symmetric (narrow range optional) and stochastic rounding — per tensor or per channel,
// 2 to 8 bits (8 and 4 are the whitepaper's; 7 keeps every u8 x s8 pair sum within 16 bits, which
// lets CPUs without VNNI run the int8 kernels exactly).
#ifndef OCTET_ENGINE_QUANT_WEIGHT_QUANTIZER_H_
#define OCTET_ENGINE_QUANT_WEIGHT_QUANTIZER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "engine/quant/quantization_params.h"
#include "engine/tensor/tensor.h"

namespace octet {

enum class Rounding {
  // Round half to even, as ONNX QuantizeLinear.
  kNearest,
  // floor(x / s + u) with u uniform in [0, 1): unbiased in expectation; for study (the whitepaper
  // finds it no better than nearest for inference). Reproducible from the seed.
  kStochastic,
  // GPTQ (engine/quant/gptq_rounding.h): each layer's weights rounded against statistics of its
  // inputs from the calibration data, to minimise the error of the layer's output rather than of
  // each weight. The quantization pipeline does this (without calibration data it rounds to
  // nearest and its report says so); QuantizeWeights alone has no inputs and rounds to nearest.
  kGptq,
};

inline constexpr int kMinWeightBits = 2;
inline constexpr int kMaxWeightBits = 8;

struct WeightQuantizationSpec {
  QuantizationScheme scheme = QuantizationScheme::kSymmetric;
  bool per_channel = true;
  // kMinWeightBits..kMaxWeightBits, stored in int8.
  int bits = 8;
  // Depthwise and pointwise layers' precision where it differs from `bits` (0: `bits`;
  // LayerWeightSpec). On AVX2 without VNNI these run exactly with 8-bit weights on Octet's own
  // kernels, the others need 7 on oneDNN's (quantization_config.h).
  int depthwise_bits = 0;
  int pointwise_bits = 0;
  // The precision those layers take.
  int DepthwiseBits() const { return depthwise_bits != 0 ? depthwise_bits : bits; }
  int PointwiseBits() const { return pointwise_bits != 0 ? pointwise_bits : bits; }
  // What depthwise and pointwise layers take instead when the job finds `bits` too few for the
  // model (kPrecisionNeededBelowDb); 0: never.
  int bits_where_needed = 0;
  bool narrow_range = true;
  Rounding rounding = Rounding::kNearest;
  uint64_t seed = 0;
};

struct QuantizedTensor {
  // int8 values (fewer bits too: ONNX opset <= 17 has no 4-bit type).
  Tensor values;
  QuantizationParams params;
};

// Quantizes float32 `weights`, per channel along `channel_axis` when spec.per_channel (axis 0 for
// Conv, the output-feature axis for Gemm/MatMul). INVALID_ARGUMENT for a non-float32 tensor, an
// axis out of range, bits out of [2, 8], or a non-finite weight (naming its index).
absl::StatusOr<QuantizedTensor> QuantizeWeights(const Tensor& weights, int64_t channel_axis,
                                                const WeightQuantizationSpec& spec);

// The float tensor `quantized` stands for: (q - z) * s per element.
Tensor DequantizeTensor(const QuantizedTensor& quantized);

// Bias for a quantized Conv/Gemm: int32 with scale input_scale * weight_scale[c] and zero point 0
// (whitepaper 2.2.1, ONNX QDQ convention), saturated to int32.
absl::StatusOr<QuantizedTensor> QuantizeBias(const Tensor& bias, float input_scale,
                                             const QuantizationParams& weight_params);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_WEIGHT_QUANTIZER_H_
