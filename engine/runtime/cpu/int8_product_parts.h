// The parts Octet's exact AVX2 int8 products share (cpu/int8_gemm.cc, cpu/int8_winograd.cc):
// the register loop that sums int16 pairs by VPMADDWD into 16 int32 columns per row, and the
// requantization of a row of 16 sums into the destination. Internal to those kernels.
#ifndef OCTET_ENGINE_RUNTIME_CPU_INT8_PRODUCT_PARTS_H_
#define OCTET_ENGINE_RUNTIME_CPU_INT8_PRODUCT_PARTS_H_

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
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

// The size of the blocks `count` units (rows, tiles) are cut into, for `threads` threads that share
// the blocks x `per_block` items in contiguous ranges: at most `most` units and at least
// `min_blocks` blocks, then more blocks until the items divide evenly among the threads (while a
// block keeps `least` units or more), all of near-equal size: so that no thread waits for another
// with the last, larger share.
inline int64_t BalancedBlock(int64_t count, int64_t most, int64_t least, int64_t min_blocks,
                             int64_t per_block, int threads) {
  int64_t blocks = std::max<int64_t>({(count + most - 1) / most, min_blocks, 1});
  for (int extra = 0;
       extra < threads && (blocks * per_block) % threads != 0 && count / (blocks + 1) >= least;
       ++extra) {
    ++blocks;
  }
  return std::clamp<int64_t>((count + blocks - 1) / blocks, 1, most);
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

// The int32 sums of rows of 16 columns to the destination: times the column's scale, plus its
// addend (in output units), the activation, the destination zero point, round half to even (the
// default rounding mode, as QuantizeLinear) and saturation; float destinations take the value in
// output units.
class Requantizer {
 public:
  // A column block's constants (a local: the byte stores cannot alias it). The per-column ones
  // stay in memory (FMA reads them), so that the accumulators keep the registers.
  struct Block {
    const float* scale;
    const float* addend;
    float low, high, slope, y_zero, type_low, type_high;
    int64_t columns;  // of the block's 16 that exist
    // The fused residual's (Int8GemmSpec::Residual).
    float residual_scale, residual_weight, residual_zero, sum_zero;
  };

  Requantizer(const Int8GemmSpec& spec, int64_t padded_columns)
      : y_type_(spec.y_type), negative_slope_(spec.negative_slope), y_zero_(spec.y_zero) {
    n_ = spec.n;
    if (spec.residual.has_value()) residual_ = *spec.residual;
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
  Block Load(int64_t j0) const {
    Block k;
    k.scale = scales_.data() + j0;
    k.addend = (leaky_ ? addend_ : folded_addend_).data() + j0;
    k.low = leaky_ ? low_ : clamp_low_;
    k.high = leaky_ ? high_ : clamp_high_;
    k.slope = negative_slope_;
    k.y_zero = static_cast<float>(y_zero_);
    k.type_low = saturate_low_;
    k.type_high = saturate_high_;
    k.columns = std::min<int64_t>(kColumns, n_ - j0);
    k.residual_scale = residual_.has_value() ? residual_->scale : 0.0f;
    k.residual_weight = residual_.has_value() ? residual_->residual_scale : 0.0f;
    k.residual_zero = residual_.has_value() ? static_cast<float>(residual_->zero) : 0.0f;
    k.sum_zero = residual_.has_value() ? static_cast<float>(residual_->y_zero) : 0.0f;
    return k;
  }

  // R rows of 16 sums (acc[r][0] columns 0-7, acc[r][1] columns 8-15) to the destination `y`,
  // row r's first value at element at[r]. The destination type and the activation are settled
  // once per call, not per row.
  template <int R>
  __attribute__((target("avx2,fma"), always_inline)) inline void Store(const Block& k,
                                                                       __m256i (&acc)[R][2],
                                                                       const int64_t (&at)[R],
                                                                       void* y) const {
    if (residual_.has_value()) {
      const Sum sum = residual_->relu ? kSumRelu : kSum;
      if (y_type_ == DataType::kUint8) {
        if (leaky_) {
          return sum == kSum ? Typed<R, DataType::kUint8, true, kSum>(k, acc, at, y)
                             : Typed<R, DataType::kUint8, true, kSumRelu>(k, acc, at, y);
        }
        return sum == kSum ? Typed<R, DataType::kUint8, false, kSum>(k, acc, at, y)
                           : Typed<R, DataType::kUint8, false, kSumRelu>(k, acc, at, y);
      }
      if (leaky_) {
        return sum == kSum ? Typed<R, DataType::kInt8, true, kSum>(k, acc, at, y)
                           : Typed<R, DataType::kInt8, true, kSumRelu>(k, acc, at, y);
      }
      return sum == kSum ? Typed<R, DataType::kInt8, false, kSum>(k, acc, at, y)
                         : Typed<R, DataType::kInt8, false, kSumRelu>(k, acc, at, y);
    }
    switch (y_type_) {
      case DataType::kUint8:
        return leaky_ ? Typed<R, DataType::kUint8, true, kNoSum>(k, acc, at, y)
                      : Typed<R, DataType::kUint8, false, kNoSum>(k, acc, at, y);
      case DataType::kInt8:
        return leaky_ ? Typed<R, DataType::kInt8, true, kNoSum>(k, acc, at, y)
                      : Typed<R, DataType::kInt8, false, kNoSum>(k, acc, at, y);
      default:
        return leaky_ ? Typed<R, DataType::kFloat32, true, kNoSum>(k, acc, at, y)
                      : Typed<R, DataType::kFloat32, false, kNoSum>(k, acc, at, y);
    }
  }

 private:
  enum Sum { kNoSum, kSum, kSumRelu };

  template <int R, DataType Y, bool kLeaky, Sum kResidual>
  __attribute__((target("avx2,fma"), always_inline)) static inline void Typed(
      const Block& k, __m256i (&acc)[R][2], const int64_t (&at)[R], void* y) {
    __m256 v[R][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        v[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][h]), _mm256_loadu_ps(k.scale + 8 * h),
                                  _mm256_loadu_ps(k.addend + 8 * h));
        if constexpr (kLeaky) {
          // LeakyRelu: x < 0 -> slope * x, the clamp, then the zero point and the saturation.
          v[r][h] = _mm256_blendv_ps(v[r][h], _mm256_mul_ps(v[r][h], _mm256_set1_ps(k.slope)),
                                     _mm256_cmp_ps(v[r][h], _mm256_setzero_ps(), _CMP_LT_OQ));
        }
        v[r][h] =
            _mm256_min_ps(_mm256_max_ps(v[r][h], _mm256_set1_ps(k.low)), _mm256_set1_ps(k.high));
        if constexpr (kLeaky && Y != DataType::kFloat32) {
          v[r][h] = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v[r][h], _mm256_set1_ps(k.y_zero)),
                                                _mm256_set1_ps(k.type_low)),
                                  _mm256_set1_ps(k.type_high));
        }
      }
    }
    if constexpr (kResidual != kNoSum && Y != DataType::kFloat32) {
      // The product's own quantization step (round half to even; v is within the type's range),
      // then the Add in its units: the destination holds the residual until stored over.
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const auto* in = static_cast<const uint8_t*>(y) + at[r];
        alignas(16) uint8_t staged[kColumns] = {};
        if (k.columns < kColumns) std::memcpy(staged, in, k.columns);
        const __m128i bytes =
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(k.columns < kColumns ? staged : in));
        const __m128i halves[2] = {bytes, _mm_srli_si128(bytes, 8)};
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const __m256 residual = _mm256_cvtepi32_ps(Y == DataType::kUint8
                                                         ? _mm256_cvtepu8_epi32(halves[h])
                                                         : _mm256_cvtepi8_epi32(halves[h]));
          const __m256 own = _mm256_sub_ps(
              _mm256_round_ps(v[r][h], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
              _mm256_set1_ps(k.y_zero));
          __m256 sum = _mm256_fmadd_ps(
              own, _mm256_set1_ps(k.residual_scale),
              _mm256_mul_ps(_mm256_sub_ps(residual, _mm256_set1_ps(k.residual_zero)),
                            _mm256_set1_ps(k.residual_weight)));
          if constexpr (kResidual == kSumRelu) sum = _mm256_max_ps(sum, _mm256_setzero_ps());
          v[r][h] = _mm256_add_ps(sum, _mm256_set1_ps(k.sum_zero));
        }
      }
    }
    if constexpr (Y == DataType::kFloat32) {
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        float* out = static_cast<float*>(y) + at[r];
        if (k.columns == kColumns) {
          _mm256_storeu_ps(out, v[r][0]);
          _mm256_storeu_ps(out + 8, v[r][1]);
        } else {
          alignas(32) float staged[kColumns];
          _mm256_store_ps(staged, v[r][0]);
          _mm256_store_ps(staged + 8, v[r][1]);
          std::memcpy(out, staged, k.columns * sizeof(float));
        }
      }
    } else {
      // Two rows at a time: packs work within 128-bit lanes, so the two rows' words and then
      // bytes come interleaved by 4; one permute puts row r's 16 bytes in the low half and row
      // r + 1's in the high half.
      const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
      auto* bytes_out = static_cast<uint8_t*>(y);
#pragma GCC unroll 4
      for (int r = 0; r < R; r += 2) {
        const int second = r + 1 < R ? r + 1 : r;
        const __m256i words0 =
            _mm256_packs_epi32(_mm256_cvtps_epi32(v[r][0]), _mm256_cvtps_epi32(v[r][1]));
        const __m256i words1 =
            _mm256_packs_epi32(_mm256_cvtps_epi32(v[second][0]), _mm256_cvtps_epi32(v[second][1]));
        const __m256i packed = Y == DataType::kUint8 ? _mm256_packus_epi16(words0, words1)
                                                     : _mm256_packs_epi16(words0, words1);
        const __m256i rows = _mm256_permutevar8x32_epi32(packed, order);
        StoreBytes(_mm256_castsi256_si128(rows), k.columns, bytes_out + at[r]);
        if (r + 1 < R) {
          StoreBytes(_mm256_extracti128_si256(rows, 1), k.columns, bytes_out + at[r + 1]);
        }
      }
    }
  }

  __attribute__((target("avx2,fma"), always_inline)) static inline void StoreBytes(__m128i bytes,
                                                                                   int64_t columns,
                                                                                   uint8_t* out) {
    if (columns == kColumns) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
    } else {
      alignas(16) uint8_t staged[kColumns];
      _mm_store_si128(reinterpret_cast<__m128i*>(staged), bytes);
      std::memcpy(out, staged, columns);
    }
  }

  DataType y_type_;
  float negative_slope_;
  int32_t y_zero_;
  int64_t n_ = 0;
  std::vector<float> scales_, addend_, folded_addend_;
  float saturate_low_ = 0.0f, saturate_high_ = 0.0f;
  bool leaky_ = false;
  float low_ = 0.0f, high_ = 0.0f, clamp_low_ = 0.0f, clamp_high_ = 0.0f;
  std::optional<Int8GemmSpec::Residual> residual_;
};

}  // namespace octet::cpu::int8_product

#endif  // OCTET_ENGINE_RUNTIME_CPU_INT8_PRODUCT_PARTS_H_
