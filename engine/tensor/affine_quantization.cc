#include "engine/tensor/affine_quantization.h"

namespace octet {
namespace {

// The quotient is clamped just past the range (saturation is unchanged and it stays small), NaN
// becomes 0, and rounding half to even is the float trick (v + 1.5 * 2^23) - 1.5 * 2^23, exact for
// |v| < 2^22 in the default rounding mode (Octet is not built with -ffast-math, which would fold
// it away). GCC vectorizes at -O2 only loops that need no remainder handling; `omp simd` (this
// library is built with OpenMP) asks for it here.
template <typename Q>
void QuantizeRun(const float* x, int64_t n, float scale, int32_t zero_point, IntegerRange range,
                 Q* y) {
  const float low = static_cast<float>(range.min - zero_point) - 1.0f;
  const float high = static_cast<float>(range.max - zero_point) + 1.0f;
  const float magic = 12582912.0f;  // 1.5 * 2^23
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i] / scale;
    v = v == v ? v : 0.0f;  // NaN
    v = v < low ? low : v;
    v = v > high ? high : v;
    const float rounded = (v + magic) - magic;
    int32_t q = static_cast<int32_t>(rounded) + zero_point;
    q = q < range.min ? range.min : q;
    q = q > range.max ? range.max : q;
    y[i] = static_cast<Q>(q);
  }
}

template <typename Q>
void DequantizeRun(const Q* q, int64_t n, float scale, int32_t zero_point, float* y) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(q[i] - zero_point) * scale;
}

}  // namespace

void DequantizeValues(const uint8_t* q, int64_t n, float scale, int32_t zero_point, float* y) {
  DequantizeRun(q, n, scale, zero_point, y);
}

void DequantizeValues(const int8_t* q, int64_t n, float scale, int32_t zero_point, float* y) {
  DequantizeRun(q, n, scale, zero_point, y);
}

void QuantizeValues(const float* x, int64_t n, float scale, int32_t zero_point, IntegerRange range,
                    uint8_t* y) {
  QuantizeRun(x, n, scale, zero_point, range, y);
}

void QuantizeValues(const float* x, int64_t n, float scale, int32_t zero_point, IntegerRange range,
                    int8_t* y) {
  QuantizeRun(x, n, scale, zero_point, range, y);
}

}  // namespace octet
