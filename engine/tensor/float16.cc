#include "engine/tensor/float16.h"

#include <cstring>

namespace octet {

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1fu) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // infinity, NaN (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // +-0
  } else {
    // Subnormal: shift the leading 1 into the implicit bit.
    exponent = 127 - 15 + 1;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

uint16_t FloatToHalf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) {
    // NaN: keep it quiet and a NaN whatever its payload.
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  }
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // rounds to 65520 or beyond: infinity
  if (magnitude < 0x38800000u) {
    // Below the smallest normal half (2^-14): a subnormal half or zero, rounded to nearest even
    // on the 24-bit significand shifted into the half's 10 fraction bits.
    if (magnitude < 0x33000000u) return sign;  // below half the smallest subnormal (2^-25)
    const uint32_t exponent = magnitude >> 23;
    const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
    // value = significand 2^(exponent - 150) = m 2^-24, so m = significand >> (126 - exponent).
    const uint32_t shift = 126 - exponent;
    const uint32_t kept = significand >> shift;
    const uint32_t rest = significand & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    uint32_t rounded = kept + (rest > halfway || (rest == halfway && (kept & 1u)) ? 1u : 0u);
    return static_cast<uint16_t>(sign | rounded);
  }
  // Normal: rebias the exponent, round the 13 dropped bits to nearest even (a carry may step the
  // exponent, up to infinity, which the bound above already excludes).
  const uint32_t rebased = magnitude - ((127u - 15u) << 23);
  const uint32_t kept = rebased >> 13;
  const uint32_t rest = rebased & 0x1fffu;
  const uint32_t rounded = kept + (rest > 0x1000u || (rest == 0x1000u && (kept & 1u)) ? 1u : 0u);
  return static_cast<uint16_t>(sign | rounded);
}

Tensor HalfTensorToFloat(const Tensor& half) {
  Tensor out = Tensor::Create(DataType::kFloat32, half.shape()).value();
  const auto* in = static_cast<const uint16_t*>(half.raw_data());
  float* values = out.data<float>();
  for (int64_t i = 0; i < half.element_count(); ++i) values[i] = HalfToFloat(in[i]);
  return out;
}

}  // namespace octet
