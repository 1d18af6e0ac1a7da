// The affine map between real values and integers, with ONNX QuantizeLinear/DequantizeLinear
// semantics (so that what Octet computes means the same elsewhere):
//   q = saturate(round_half_to_even(x / scale) + zero_point),   x' = (q - zero_point) * scale.
// Shared by the runtime's Q/DQ kernels and the quantizers, so simulation and export agree bit for
// bit.
#ifndef OCTET_ENGINE_TENSOR_AFFINE_QUANTIZATION_H_
#define OCTET_ENGINE_TENSOR_AFFINE_QUANTIZATION_H_

#include <cmath>
#include <cstdint>

namespace octet {

// The integer range a quantized tensor may use.
struct IntegerRange {
  int32_t min = 0;
  int32_t max = 255;
};

// `value` rounded half to even (the default floating-point rounding mode, as numpy's rint) and
// saturated to `range`. NaN maps to 0 (then offset by the caller's zero point), a defined value.
inline int32_t RoundAndSaturate(float value, IntegerRange range) {
  if (std::isnan(value)) return 0;
  const float rounded = std::nearbyint(value);
  if (rounded <= static_cast<float>(range.min)) return range.min;
  if (rounded >= static_cast<float>(range.max)) return range.max;
  return static_cast<int32_t>(rounded);
}

// REQUIRES: scale > 0.
inline int32_t QuantizeValue(float x, float scale, int32_t zero_point, IntegerRange range) {
  if (std::isnan(x)) return zero_point;
  const float shifted = std::nearbyint(x / scale) + static_cast<float>(zero_point);
  if (shifted <= static_cast<float>(range.min)) return range.min;
  if (shifted >= static_cast<float>(range.max)) return range.max;
  return static_cast<int32_t>(shifted);
}

inline float DequantizeValue(int32_t q, float scale, int32_t zero_point) {
  return static_cast<float>(q - zero_point) * scale;
}

// y[i] = QuantizeValue(x[i], scale, zero_point, range) for i < n, bit for bit, vectorized
// (affine_quantization.cc). REQUIRES: scale > 0.
void QuantizeValues(const float* x, int64_t n, float scale, int32_t zero_point, IntegerRange range,
                    uint8_t* y);
void QuantizeValues(const float* x, int64_t n, float scale, int32_t zero_point, IntegerRange range,
                    int8_t* y);

// y[i] = DequantizeValue(q[i], scale, zero_point) for i < n, vectorized.
void DequantizeValues(const uint8_t* q, int64_t n, float scale, int32_t zero_point, float* y);
void DequantizeValues(const int8_t* q, int64_t n, float scale, int32_t zero_point, float* y);

}  // namespace octet

#endif  // OCTET_ENGINE_TENSOR_AFFINE_QUANTIZATION_H_
