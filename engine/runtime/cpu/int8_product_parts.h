// The parts Octet's exact AVX2 int8 products share (cpu/int8_gemm.cc, cpu/int8_winograd.cc):
// the register loop that sums int16 pairs by VPMADDWD into 16 int32 columns per row, and the
// requantization of a row of 16 sums into the destination. Internal to those kernels.
#ifndef OCTET_ENGINE_RUNTIME_CPU_INT8_PRODUCT_PARTS_H_
#define OCTET_ENGINE_RUNTIME_CPU_INT8_PRODUCT_PARTS_H_

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/runtime/cpu/int8_gemm.h"
#include "engine/tensor/data_type.h"

namespace octet::cpu::int8_product {

constexpr int64_t kColumns = 16;  // columns of a register tile (two vectors of 8 int32)

// acc[r] += sum over pairs q in [q_begin, q_end) of row r's pair (a[r][2q], a[r][2q + 1])
// broadcast to every 32-bit lane times the 16 columns' pair at b + 32q (packed [pairs][16][2]).
// Unrolled by 4 pairs: with one pair per iteration the loop's own instructions and the broadcasts'
// latency halve the throughput (measured on AMD Zen 3).
template <int R>
__attribute__((target("avx2,fma"), always_inline)) inline void AccumulatePairs(
    const int16_t* const (&a)[R], const int16_t* b, int64_t q_begin, int64_t q_end,
    __m256i (&acc)[R][2]) {
#pragma GCC unroll 4
  for (int64_t q = q_begin; q < q_end; ++q) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + q * 32));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + q * 32 + 16));
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      int32_t value;
      std::memcpy(&value, a[r] + 2 * q, sizeof(value));
      const __m256i x = _mm256_set1_epi32(value);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x, b0));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x, b1));
    }
  }
}

// [images, channels, pixels] -> [images, pixels, channels] bytes, among `threads` threads by
// image and channel.
inline void TransposeToChannelsLast(const uint8_t* in, int64_t images, int64_t channels,
                                    int64_t pixels, uint8_t* out, int threads) {
#pragma omp parallel for num_threads(threads) collapse(2)
  for (int64_t image = 0; image < images; ++image) {
    for (int64_t c = 0; c < channels; ++c) {
      const uint8_t* from = in + (image * channels + c) * pixels;
      uint8_t* to = out + image * pixels * channels + c;
      for (int64_t q = 0; q < pixels; ++q) to[q * channels] = from[q];
    }
  }
}

// The int32 sums of a row of 16 columns to the destination: times the column's scale, plus its
// addend (in output units), the activation, the destination zero point, round half to even (the
// default rounding mode, as QuantizeLinear) and saturation; float destinations take the value in
// output units.
class Requantizer {
 public:
  // A column block's constants, in registers (a local: the byte stores cannot alias it).
  struct Block {
    __m256 scale[2], addend[2], low, high, slope, y_zero, type_low, type_high;
    bool leaky, quantized;
    DataType y_type;
  };

  Requantizer(const Int8GemmSpec& spec, int64_t padded_columns)
      : y_type_(spec.y_type), negative_slope_(spec.negative_slope), y_zero_(spec.y_zero) {
    scales_.assign(padded_columns, 0.0f);
    addend_.assign(padded_columns, 0.0f);
    std::copy(spec.scales.begin(), spec.scales.end(), scales_.begin());
    std::copy(spec.addend.begin(), spec.addend.end(), addend_.begin());
    if (y_type_ != DataType::kFloat32) {
      // Saturation to the destination type, applied in output units with the zero point added.
      saturate_low_ = y_type_ == DataType::kUint8 ? 0.0f : -128.0f;
      saturate_high_ = y_type_ == DataType::kUint8 ? 255.0f : 127.0f;
    }
    // Without a leaky slope the activation is a clamp, and the destination zero point can join
    // the addend and the clamp's bounds: one FMA, one max, one min per vector before the
    // conversion.
    leaky_ = negative_slope_ != 0.0f && negative_slope_ != 1.0f;
    low_ = spec.low;
    high_ = spec.high;
    clamp_low_ = negative_slope_ == 0.0f ? std::max(spec.low, 0.0f) : spec.low;
    clamp_high_ = spec.high;
    folded_addend_ = addend_;
    if (y_type_ != DataType::kFloat32 && !leaky_) {
      for (float& a : folded_addend_) a += static_cast<float>(y_zero_);
      clamp_low_ = std::max(clamp_low_ + static_cast<float>(y_zero_), saturate_low_);
      clamp_high_ = std::min(clamp_high_ + static_cast<float>(y_zero_), saturate_high_);
    }
  }

  // Columns [j0, j0 + 16)'s constants.
  __attribute__((target("avx2,fma"), always_inline)) inline Block Load(int64_t j0) const {
    Block k;
    const std::vector<float>& addend = leaky_ ? addend_ : folded_addend_;
    for (int h = 0; h < 2; ++h) {
      k.scale[h] = _mm256_loadu_ps(scales_.data() + j0 + 8 * h);
      k.addend[h] = _mm256_loadu_ps(addend.data() + j0 + 8 * h);
    }
    k.low = _mm256_set1_ps(leaky_ ? low_ : clamp_low_);
    k.high = _mm256_set1_ps(leaky_ ? high_ : clamp_high_);
    k.slope = _mm256_set1_ps(negative_slope_);
    k.y_zero = _mm256_set1_ps(static_cast<float>(y_zero_));
    k.type_low = _mm256_set1_ps(saturate_low_);
    k.type_high = _mm256_set1_ps(saturate_high_);
    k.leaky = leaky_;
    k.quantized = y_type_ != DataType::kFloat32;
    k.y_type = y_type_;
    return k;
  }

  // One row's 16 sums to `columns` (up to 16) values of the destination `y` (of the block's type)
  // from element `at`.
  __attribute__((target("avx2,fma"), always_inline)) static inline void Row(const Block& k,
                                                                            const __m256i* acc,
                                                                            int64_t columns,
                                                                            void* y, int64_t at) {
    __m256 v[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      v[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[h]), k.scale[h], k.addend[h]);
      if (k.leaky) {
        // LeakyRelu: x < 0 -> slope * x, the clamp, then the zero point and the saturation.
        v[h] = _mm256_blendv_ps(v[h], _mm256_mul_ps(v[h], k.slope),
                                _mm256_cmp_ps(v[h], _mm256_setzero_ps(), _CMP_LT_OQ));
        v[h] = _mm256_min_ps(_mm256_max_ps(v[h], k.low), k.high);
        if (k.quantized) {
          v[h] =
              _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v[h], k.y_zero), k.type_low), k.type_high);
        }
      } else {
        v[h] = _mm256_min_ps(_mm256_max_ps(v[h], k.low), k.high);
      }
    }
    if (k.y_type == DataType::kFloat32) {
      float* out = static_cast<float*>(y) + at;
      if (columns == kColumns) {
        _mm256_storeu_ps(out, v[0]);
        _mm256_storeu_ps(out + 8, v[1]);
      } else {
        alignas(32) float staged[kColumns];
        _mm256_store_ps(staged, v[0]);
        _mm256_store_ps(staged + 8, v[1]);
        std::memcpy(out, staged, columns * sizeof(float));
      }
      return;
    }
    // packs work within 128-bit lanes; the permute restores the column order.
    const __m256i words = _mm256_permute4x64_epi64(
        _mm256_packs_epi32(_mm256_cvtps_epi32(v[0]), _mm256_cvtps_epi32(v[1])), 0xd8);
    const __m128i low = _mm256_castsi256_si128(words), high = _mm256_extracti128_si256(words, 1);
    const __m128i bytes =
        k.y_type == DataType::kUint8 ? _mm_packus_epi16(low, high) : _mm_packs_epi16(low, high);
    uint8_t* out = static_cast<uint8_t*>(y) + at;
    if (columns == kColumns) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
    } else {
      alignas(16) uint8_t staged[kColumns];
      _mm_store_si128(reinterpret_cast<__m128i*>(staged), bytes);
      std::memcpy(out, staged, columns);
    }
  }

 private:
  DataType y_type_;
  float negative_slope_;
  int32_t y_zero_;
  std::vector<float> scales_, addend_, folded_addend_;
  float saturate_low_ = 0.0f, saturate_high_ = 0.0f;
  bool leaky_ = false;
  float low_ = 0.0f, high_ = 0.0f, clamp_low_ = 0.0f, clamp_high_ = 0.0f;
};

}  // namespace octet::cpu::int8_product

#endif  // OCTET_ENGINE_RUNTIME_CPU_INT8_PRODUCT_PARTS_H_
