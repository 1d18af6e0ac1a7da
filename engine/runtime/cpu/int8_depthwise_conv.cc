#include "engine/runtime/cpu/int8_depthwise_conv.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/runtime/cpu/cpu_features.h"

namespace octet::cpu {
namespace {

using Spec = Int8DepthwiseConvSpec;

// Channels per AVX2 step: 16 bytes of source widen to 16 int16 lanes.
constexpr int64_t kBlock = 16;
// Channels per step of the 4-tap body (u8 source, weights whose pair sums fit 16 bits): 32 bytes.
constexpr int64_t kQuadBlock = 32;

// The channel (0..31) of int32 element e (0..7) of accumulator k (0..3) of the 4-tap body: the
// byte and word unpacks work per 128-bit lane, so accumulator k holds channels 4k..4k+3 of each
// lane's 16 (and the packs that narrow the accumulators restore the order).
int64_t QuadChannelOf(int k, int element) { return (element >> 2) * 16 + 4 * k + (element & 3); }

// The channel (0..15) of element e (0..7) of half h of a block after VPUNPCK{L,H}WD and VPMADDWD:
// half 0 holds channels 0-3 and 8-11, half 1 channels 4-7 and 12-15 (the unpacks work per 128-bit
// lane).
int64_t ChannelOf(int half, int element) { return (element & 3) + (element >> 2) * 8 + half * 4; }

// max/min with the operand order of VMAXPS/VMINPS, so that the scalar tail computes what the
// vector body does (also for NaN).
inline float MaxPs(float a, float b) { return a > b ? a : b; }
inline float MinPs(float a, float b) { return a < b ? a : b; }

// What the requantization of a block of 16 channels needs, in registers: locals of the loops,
// so that the compiler need not reload them after every byte store (which may alias anything).
struct BlockConstants {
  __m256 bias[2], scale[2];  // the halves' channel order (ChannelOf)
};
struct OutputConstants {
  Spec::Activation activation;
  __m256 alpha, post_scale, low, high;
  __m256i zero;  // y_zero in 16-bit lanes
};

__attribute__((target("avx2"), always_inline)) inline __m256i RequantizeHalf(
    __m256i acc, __m256 bias, __m256 scale, const OutputConstants& k) {
  __m256 v = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(acc), bias), scale);
  if (k.activation == Spec::Activation::kLeakyRelu) {
    v = _mm256_mul_ps(_mm256_blendv_ps(v, _mm256_mul_ps(v, k.alpha), v), k.post_scale);
  } else if (k.activation == Spec::Activation::kHardSwish) {
    __m256 t = _mm256_add_ps(v, _mm256_set1_ps(3.0f));
    t = _mm256_min_ps(_mm256_max_ps(t, _mm256_setzero_ps()), _mm256_set1_ps(6.0f));
    v = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(v, t), _mm256_set1_ps(1.0f / 6.0f)),
                      k.post_scale);
  }
  v = _mm256_min_ps(_mm256_max_ps(v, k.low), k.high);
  return _mm256_cvtps_epi32(v);  // rounds half to even (the default MXCSR mode)
}

// Requantizes a block of 16 channels and stores its bytes at out.
template <bool kSignedY>
__attribute__((target("avx2"), always_inline)) inline void StoreBlock(__m256i acc_low,
                                                                      __m256i acc_high,
                                                                      const BlockConstants& b,
                                                                      const OutputConstants& k,
                                                                      uint8_t* out) {
  const __m256i q_low = RequantizeHalf(acc_low, b.bias[0], b.scale[0], k);
  const __m256i q_high = RequantizeHalf(acc_high, b.bias[1], b.scale[1], k);
  // Within the type's range already: the packs only narrow.
  const __m256i words = _mm256_add_epi16(_mm256_packs_epi32(q_low, q_high), k.zero);
  const __m128i first = _mm256_castsi256_si128(words), second = _mm256_extracti128_si256(words, 1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                   kSignedY ? _mm_packs_epi16(first, second) : _mm_packus_epi16(first, second));
}

class Int8DepthwiseConvKernel final : public Kernel {
 public:
  explicit Int8DepthwiseConvKernel(Spec spec) : spec_(std::move(spec)) {
    const Spec& s = spec_;
    taps_ = s.kernel_h * s.kernel_w;
    pairs_ = (taps_ + 1) / 2;
    blocks_ = s.channels / kBlock;
    packed_weights_.assign(blocks_ * pairs_ * 2 * kBlock, 0);
    packed_bias_.resize(blocks_ * kBlock);
    packed_scale_.resize(blocks_ * kBlock);
    for (int64_t b = 0; b < blocks_; ++b) {
      for (int half = 0; half < 2; ++half) {
        for (int e = 0; e < 8; ++e) {
          const int64_t c = b * kBlock + ChannelOf(half, e);
          packed_bias_[(b * 2 + half) * 8 + e] = s.bias[c];
          packed_scale_[(b * 2 + half) * 8 + e] = s.scale[c];
          for (int64_t p = 0; p < pairs_; ++p) {
            int16_t* pair = &packed_weights_[((b * pairs_ + p) * 2 + half) * kBlock + 2 * e];
            pair[0] = s.weights[c * taps_ + 2 * p];
            pair[1] = 2 * p + 1 < taps_ ? s.weights[c * taps_ + 2 * p + 1] : 0;
          }
        }
      }
    }
    PackQuads();
    zero_line_.assign(s.in_w * s.channels, static_cast<uint8_t>(s.x_zero));
    // The result is clamped once before rounding: to the destination type's range in units
    // relative to the zero point, narrowed by a Relu or Clip (clamps that compose).
    const bool unsigned_y = s.y_type == DataType::kUint8;
    const float type_low = (unsigned_y ? 0.0f : -128.0f) - static_cast<float>(s.y_zero);
    const float type_high = (unsigned_y ? 255.0f : 127.0f) - static_cast<float>(s.y_zero);
    low_ = type_low;
    high_ = type_high;
    if (s.activation == Spec::Activation::kRelu) {
      low_ = std::clamp(0.0f, type_low, type_high);
    } else if (s.activation == Spec::Activation::kClip) {
      low_ = std::clamp(s.alpha, type_low, type_high);
      high_ = std::clamp(s.beta, type_low, type_high);
    }
    const bool signed_x = s.x_type == DataType::kInt8;
    const bool signed_y = !unsigned_y;
    rows_ = Select(signed_x, signed_y, s.kernel_h, s.kernel_w);
  }

  size_t scratchpad_bytes() const override {
    return spec_.x_channels_last
               ? 0
               : static_cast<size_t>(spec_.batch * spec_.channels * spec_.in_h * spec_.in_w);
  }

  std::string implementation() const override {
    return quad_blocks_ > 0 ? "octet:avx2 (u8 x 7-bit weights, 4 taps by VPMADDUBSW)"
                            : "octet:avx2";
  }

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    const auto* x = static_cast<const uint8_t*>(inputs[0]->raw_data());
    if (!spec_.x_channels_last) {
      auto* channels_last = static_cast<uint8_t*>(context.scratchpad);
      ToChannelsLast(x, channels_last);
      x = channels_last;
    }
    auto* y = static_cast<uint8_t*>(outputs[0]->raw_data());
    const int64_t rows = spec_.batch * spec_.out_h;
#pragma omp parallel
    {
      const int64_t threads = omp_get_num_threads();
      const int64_t thread = omp_get_thread_num();
      const int64_t begin = rows * thread / threads;
      const int64_t end = rows * (thread + 1) / threads;
      if (begin < end) (this->*rows_)(x, y, begin, end);
    }
    return absl::OkStatus();
  }

 private:
  using RowsFunction = void (Int8DepthwiseConvKernel::*)(const uint8_t*, uint8_t*, int64_t,
                                                         int64_t) const;

  template <bool kSignedX, bool kSignedY>
  static RowsFunction SelectKernel(int64_t kernel_h, int64_t kernel_w) {
    if (kernel_h == 3 && kernel_w == 3) {
      return &Int8DepthwiseConvKernel::RunRows<kSignedX, kSignedY, 3, 3>;
    }
    if (kernel_h == 5 && kernel_w == 5) {
      return &Int8DepthwiseConvKernel::RunRows<kSignedX, kSignedY, 5, 5>;
    }
    return &Int8DepthwiseConvKernel::RunRows<kSignedX, kSignedY, 0, 0>;
  }

  static RowsFunction Select(bool signed_x, bool signed_y, int64_t kernel_h, int64_t kernel_w) {
    if (signed_x) {
      return signed_y ? SelectKernel<true, true>(kernel_h, kernel_w)
                      : SelectKernel<true, false>(kernel_h, kernel_w);
    }
    return signed_y ? SelectKernel<false, true>(kernel_h, kernel_w)
                    : SelectKernel<false, false>(kernel_h, kernel_w);
  }

  void ToChannelsLast(const uint8_t* x, uint8_t* out) const {
    const Spec& s = spec_;
    const int64_t plane = s.in_h * s.in_w;
#pragma omp parallel for
    for (int64_t nh = 0; nh < s.batch * s.in_h; ++nh) {
      const int64_t n = nh / s.in_h, h = nh % s.in_h;
      const uint8_t* from = x + n * s.channels * plane + h * s.in_w;
      uint8_t* to = out + nh * s.in_w * s.channels;
      for (int64_t w = 0; w < s.in_w; ++w) {
        for (int64_t c = 0; c < s.channels; ++c) to[w * s.channels + c] = from[c * plane + w];
      }
    }
  }

  // The 4-tap body applies to u8 sources when every pair of taps it sums in 16 bits (taps 4g and
  // 4g + 1, 4g + 2 and 4g + 3, row-major) has |w_a| + |w_b| <= 128: then 255 (|w_a| + |w_b|) fits
  // VPMADDUBSW's saturating int16 sum, and the result is exact (the weights a 7-bit job makes
  // always qualify). Weights per 32-channel block and group of 4 taps, one vector per accumulator:
  // element e holds the group's 4 weights of channel QuadChannelOf(k, e), 0 past the last tap.
  void PackQuads() {
    const Spec& s = spec_;
    if (s.x_type != DataType::kUint8) return;
    if (!((s.kernel_h == 3 && s.kernel_w == 3) || (s.kernel_h == 5 && s.kernel_w == 5))) return;
    for (int64_t c = 0; c < s.channels; ++c) {
      for (int64_t t = 0; t < taps_; t += 2) {
        const int a = std::abs(int{s.weights[c * taps_ + t]});
        const int b = t + 1 < taps_ ? std::abs(int{s.weights[c * taps_ + t + 1]}) : 0;
        if (a + b > 128) return;
      }
    }
    quad_blocks_ = s.channels / kQuadBlock;
    const int64_t groups = (taps_ + 3) / 4;
    quad_weights_.assign(quad_blocks_ * groups * 4 * kQuadBlock, 0);
    quad_bias_.resize(quad_blocks_ * kQuadBlock);
    quad_scale_.resize(quad_blocks_ * kQuadBlock);
    for (int64_t b = 0; b < quad_blocks_; ++b) {
      for (int k = 0; k < 4; ++k) {
        for (int e = 0; e < 8; ++e) {
          const int64_t c = b * kQuadBlock + QuadChannelOf(k, e);
          quad_bias_[(b * 4 + k) * 8 + e] = s.bias[c];
          quad_scale_[(b * 4 + k) * 8 + e] = s.scale[c];
          for (int64_t g = 0; g < groups; ++g) {
            for (int64_t i = 0; i < 4 && 4 * g + i < taps_; ++i) {
              quad_weights_[((b * groups + g) * 4 + k) * kQuadBlock + 4 * e + i] =
                  s.weights[c * taps_ + 4 * g + i];
            }
          }
        }
      }
    }
  }

  // Tap t's 32 bytes (row-major in a kKh x kKw kernel; zeros past the last tap).
  template <int kTaps, int kKw>
  __attribute__((target("avx2"), always_inline)) static inline __m256i Tap(
      const uint8_t* const* first, int t, int64_t offset, int64_t dilation) {
    return t < kTaps ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(first[t / kKw] + offset +
                                                                           (t % kKw) * dilation))
                     : _mm256_setzero_si256();
  }

  // The columns [inner_begin, inner_end) of one output row for channels [0, quad_blocks_ * 32):
  // per group of 4 taps, the taps' 32 bytes interleaved by byte and word unpacks into four vectors
  // of (tap 0, 1, 2, 3) per channel, VPMADDUBSW by the weights (two exact int16 pair sums per
  // channel) and VPMADDWD by ones (their int32 sum), added to four int32 accumulators.
  template <bool kSignedY, int kKh, int kKw>
  __attribute__((target("avx2"))) void InnerQuads(const uint8_t* const* rows, int64_t inner_begin,
                                                  int64_t inner_end, uint8_t* out_row) const {
    constexpr int kTaps = kKh * kKw, kGroups = (kTaps + 3) / 4;
    const Spec& s = spec_;
    const int64_t channels = s.channels;
    const int64_t step = s.stride_w * channels, dilation = s.dilation_w * channels;
    const OutputConstants output = MakeOutputConstants();
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < quad_blocks_; ++b) {
      const uint8_t* first[kKh];
      for (int kh = 0; kh < kKh; ++kh) {
        first[kh] = rows[kh] + (inner_begin * s.stride_w - s.pad_left) * channels + b * kQuadBlock;
      }
      const auto* w =
          reinterpret_cast<const __m256i*>(quad_weights_.data() + b * kGroups * 4 * kQuadBlock);
      const float* bias = quad_bias_.data() + b * kQuadBlock;
      const float* scale = quad_scale_.data() + b * kQuadBlock;
      const __m256 bias0 = _mm256_loadu_ps(bias), bias1 = _mm256_loadu_ps(bias + 8),
                   bias2 = _mm256_loadu_ps(bias + 16), bias3 = _mm256_loadu_ps(bias + 24);
      const __m256 scale0 = _mm256_loadu_ps(scale), scale1 = _mm256_loadu_ps(scale + 8),
                   scale2 = _mm256_loadu_ps(scale + 16), scale3 = _mm256_loadu_ps(scale + 24);
      uint8_t* out = out_row + inner_begin * channels + b * kQuadBlock;
      int64_t offset = 0;
      for (int64_t ow = inner_begin; ow < inner_end; ++ow, offset += step, out += channels) {
        __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
#pragma GCC unroll 8
        for (int g = 0; g < kGroups; ++g) {
          const __m256i t0 = Tap<kTaps, kKw>(first, 4 * g, offset, dilation);
          const __m256i t1 = Tap<kTaps, kKw>(first, 4 * g + 1, offset, dilation);
          const __m256i t2 = Tap<kTaps, kKw>(first, 4 * g + 2, offset, dilation);
          const __m256i t3 = Tap<kTaps, kKw>(first, 4 * g + 3, offset, dilation);
          const __m256i low01 = _mm256_unpacklo_epi8(t0, t1), high01 = _mm256_unpackhi_epi8(t0, t1);
          const __m256i low23 = _mm256_unpacklo_epi8(t2, t3), high23 = _mm256_unpackhi_epi8(t2, t3);
          const __m256i* wg = w + g * 4;
          acc0 = _mm256_add_epi32(
              acc0, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_unpacklo_epi16(low01, low23),
                                                           _mm256_loadu_si256(wg)),
                                      ones));
          acc1 = _mm256_add_epi32(
              acc1, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_unpackhi_epi16(low01, low23),
                                                           _mm256_loadu_si256(wg + 1)),
                                      ones));
          acc2 = _mm256_add_epi32(
              acc2, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_unpacklo_epi16(high01, high23),
                                                           _mm256_loadu_si256(wg + 2)),
                                      ones));
          acc3 = _mm256_add_epi32(
              acc3, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_unpackhi_epi16(high01, high23),
                                                           _mm256_loadu_si256(wg + 3)),
                                      ones));
        }
        // Accumulators 0 and 1 pack to channels 0-7 of each lane, 2 and 3 to 8-15; the byte pack
        // of the two then gives channels 0-15 and 16-31 in order.
        const __m256i words01 =
            _mm256_add_epi16(_mm256_packs_epi32(RequantizeHalf(acc0, bias0, scale0, output),
                                                RequantizeHalf(acc1, bias1, scale1, output)),
                             output.zero);
        const __m256i words23 =
            _mm256_add_epi16(_mm256_packs_epi32(RequantizeHalf(acc2, bias2, scale2, output),
                                                RequantizeHalf(acc3, bias3, scale3, output)),
                             output.zero);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                            kSignedY ? _mm256_packs_epi16(words01, words23)
                                     : _mm256_packus_epi16(words01, words23));
      }
    }
  }

  // v for one channel in scalar code, with the vector body's operations in the same order.
  float Activate(float v) const {
    switch (spec_.activation) {
      case Spec::Activation::kLeakyRelu:
        return std::signbit(v) ? v * spec_.alpha : v;  // VBLENDVPS picks by the sign bit
      case Spec::Activation::kHardSwish:
        return v * MinPs(MaxPs(v + 3.0f, 0.0f), 6.0f) * (1.0f / 6.0f);
      default:
        return v;  // Relu and Clip are part of the final clamp
    }
  }

  __attribute__((target("avx2"))) OutputConstants MakeOutputConstants() const {
    return {spec_.activation,
            _mm256_set1_ps(spec_.alpha),
            _mm256_set1_ps(spec_.post_scale),
            _mm256_set1_ps(low_),
            _mm256_set1_ps(high_),
            _mm256_set1_epi16(static_cast<int16_t>(spec_.y_zero))};
  }

  __attribute__((target("avx2"))) BlockConstants MakeBlockConstants(int64_t c) const {
    const float* bias = packed_bias_.data() + c;
    const float* scale = packed_scale_.data() + c;
    return {{_mm256_loadu_ps(bias), _mm256_loadu_ps(bias + 8)},
            {_mm256_loadu_ps(scale), _mm256_loadu_ps(scale + 8)}};
  }

  template <bool kSignedX>
  __attribute__((target("avx2"), always_inline)) static __m256i Widen(const uint8_t* p) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return kSignedX ? _mm256_cvtepi8_epi16(bytes) : _mm256_cvtepu8_epi16(bytes);
  }

  // One output pixel's channels from c_begin (a multiple of 16) on, through the list of its taps:
  // for the columns whose window reaches outside the input, and kernel sizes without a
  // specialised body. rows[kh] is the input row of tap row kh (the zero line outside the input).
  template <bool kSignedX, bool kSignedY>
  __attribute__((target("avx2"))) void Pixel(const uint8_t* const* rows, int64_t ow, uint8_t* out,
                                             int64_t c_begin) const {
    const Spec& s = spec_;
    const int64_t channels = s.channels;
    const uint8_t* taps[kInt8DepthwiseMaxTaps + 1];
    const int64_t iw0 = ow * s.stride_w - s.pad_left;
    int64_t t = 0;
    for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
      for (int64_t kw = 0; kw < s.kernel_w; ++kw, ++t) {
        const int64_t iw = iw0 + kw * s.dilation_w;
        taps[t] = iw >= 0 && iw < s.in_w ? rows[kh] + iw * channels : zero_line_.data();
      }
    }
    taps[t] = zero_line_.data();  // the second tap of an odd last pair, weight 0
    const OutputConstants output = MakeOutputConstants();
    int64_t c = c_begin;
    for (; c + kBlock <= channels; c += kBlock) {
      const auto* w = reinterpret_cast<const __m256i*>(packed_weights_.data() +
                                                       c / kBlock * pairs_ * 2 * kBlock);
      __m256i acc_low = _mm256_setzero_si256(), acc_high = _mm256_setzero_si256();
      for (int64_t p = 0; p < pairs_; ++p) {
        const __m256i first = Widen<kSignedX>(taps[2 * p] + c);
        const __m256i second = Widen<kSignedX>(taps[2 * p + 1] + c);
        acc_low = _mm256_add_epi32(acc_low, _mm256_madd_epi16(_mm256_unpacklo_epi16(first, second),
                                                              _mm256_loadu_si256(w + 2 * p)));
        acc_high =
            _mm256_add_epi32(acc_high, _mm256_madd_epi16(_mm256_unpackhi_epi16(first, second),
                                                         _mm256_loadu_si256(w + 2 * p + 1)));
      }
      StoreBlock<kSignedY>(acc_low, acc_high, MakeBlockConstants(c), output, out + c);
    }
    for (; c < channels; ++c) {
      int32_t acc = 0;
      for (int64_t i = 0; i < taps_; ++i) {
        const int32_t value = kSignedX ? static_cast<int8_t>(taps[i][c]) : taps[i][c];
        acc += value * s.weights[c * taps_ + i];
      }
      float v = (static_cast<float>(acc) + s.bias[c]) * s.scale[c];
      if (s.activation == Spec::Activation::kLeakyRelu ||
          s.activation == Spec::Activation::kHardSwish) {
        v = Activate(v) * s.post_scale;
      }
      v = MinPs(MaxPs(v, low_), high_);
      const int32_t q = static_cast<int32_t>(std::nearbyint(v)) + s.y_zero;
      out[c] = static_cast<uint8_t>(q);  // two's complement for s8
    }
  }

  // Output rows [row_begin, row_end) of the batch. With a kernel size known at compile time
  // (kKh x kKw; 0 x 0: any), the columns whose window lies inside the input run block by block
  // with the taps' addresses stepping along the row, fully unrolled.
  template <bool kSignedX, bool kSignedY, int kKh, int kKw>
  __attribute__((target("avx2"))) void RunRows(const uint8_t* x, uint8_t* y, int64_t row_begin,
                                               int64_t row_end) const {
    const Spec& s = spec_;
    const int64_t channels = s.channels;
    const uint8_t* rows[kInt8DepthwiseMaxTaps];
    // The columns whose whole window is inside the input: [inner_begin, inner_end).
    const int64_t extent_w = (s.kernel_w - 1) * s.dilation_w;
    const int64_t inner_begin = std::min(s.out_w, (s.pad_left + s.stride_w - 1) / s.stride_w);
    const int64_t last = s.in_w - 1 - extent_w + s.pad_left;
    const int64_t inner_end = kKh == 0 || last < 0
                                  ? inner_begin
                                  : std::clamp(last / s.stride_w + 1, inner_begin, s.out_w);
    for (int64_t r = row_begin; r < row_end; ++r) {
      const int64_t n = r / s.out_h, oh = r % s.out_h;
      for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
        const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
        rows[kh] =
            ih >= 0 && ih < s.in_h ? x + (n * s.in_h + ih) * s.in_w * channels : zero_line_.data();
      }
      uint8_t* out_row = y + r * s.out_w * channels;
      for (int64_t ow = 0; ow < inner_begin; ++ow) {
        Pixel<kSignedX, kSignedY>(rows, ow, out_row + ow * channels, 0);
      }
      for (int64_t ow = inner_end; ow < s.out_w; ++ow) {
        Pixel<kSignedX, kSignedY>(rows, ow, out_row + ow * channels, 0);
      }
      if constexpr (kKh > 0) {
        if (inner_begin == inner_end) continue;
        constexpr int kTaps = kKh * kKw;
        const int64_t step = s.stride_w * channels;
        const int64_t dilation = s.dilation_w * channels;
        const OutputConstants output = MakeOutputConstants();
        int64_t c_begin = 0;
        if (!kSignedX && quad_blocks_ > 0) {
          InnerQuads<kSignedY, kKh, kKw>(rows, inner_begin, inner_end, out_row);
          c_begin = quad_blocks_ * kQuadBlock;
        }
        for (int64_t c = c_begin; c + kBlock <= channels; c += kBlock) {
          const auto* w = reinterpret_cast<const __m256i*>(packed_weights_.data() +
                                                           c / kBlock * pairs_ * 2 * kBlock);
          const uint8_t* p[kKh];
          for (int kh = 0; kh < kKh; ++kh) {
            p[kh] = rows[kh] + (inner_begin * s.stride_w - s.pad_left) * channels + c;
          }
          uint8_t* out = out_row + inner_begin * channels + c;
          const BlockConstants block = MakeBlockConstants(c);
          for (int64_t ow = inner_begin; ow < inner_end; ++ow) {
            __m256i acc_low = _mm256_setzero_si256(), acc_high = _mm256_setzero_si256();
#pragma GCC unroll 32
            for (int t = 0; t < kTaps; t += 2) {
              const __m256i first = Widen<kSignedX>(p[t / kKw] + (t % kKw) * dilation);
              const __m256i second =
                  t + 1 < kTaps ? Widen<kSignedX>(p[(t + 1) / kKw] + ((t + 1) % kKw) * dilation)
                                : _mm256_setzero_si256();
              acc_low =
                  _mm256_add_epi32(acc_low, _mm256_madd_epi16(_mm256_unpacklo_epi16(first, second),
                                                              _mm256_loadu_si256(w + t)));
              acc_high =
                  _mm256_add_epi32(acc_high, _mm256_madd_epi16(_mm256_unpackhi_epi16(first, second),
                                                               _mm256_loadu_si256(w + t + 1)));
            }
            StoreBlock<kSignedY>(acc_low, acc_high, block, output, out);
            for (int kh = 0; kh < kKh; ++kh) p[kh] += step;
            out += channels;
          }
        }
        if (channels % kBlock != 0) {
          for (int64_t ow = inner_begin; ow < inner_end; ++ow) {
            Pixel<kSignedX, kSignedY>(rows, ow, out_row + ow * channels,
                                      channels / kBlock * kBlock);
          }
        }
      } else {
        for (int64_t ow = inner_begin; ow < inner_end; ++ow) {
          Pixel<kSignedX, kSignedY>(rows, ow, out_row + ow * channels, 0);
        }
      }
    }
  }

  Spec spec_;
  int64_t taps_ = 0, pairs_ = 0, blocks_ = 0;
  // Per block of 16 channels and pair of taps (2p, 2p + 1), two vectors of 16 int16: the pair's
  // weights interleaved for the channels of each half (ChannelOf).
  std::vector<int16_t> packed_weights_;
  // Per block, 16 floats in the halves' channel order.
  std::vector<float> packed_bias_, packed_scale_;
  // The 4-tap body's blocks of 32 channels (0 where it does not apply; PackQuads), its weights
  // and the blocks' bias and scale in the accumulators' channel order (QuadChannelOf).
  int64_t quad_blocks_ = 0;
  std::vector<int8_t> quad_weights_;
  std::vector<float> quad_bias_, quad_scale_;
  // An input row of x_zero bytes: where taps outside the input read.
  std::vector<uint8_t> zero_line_;
  float low_ = 0.0f, high_ = 0.0f;
  RowsFunction rows_ = nullptr;
};

}  // namespace

bool Int8DepthwiseConvAvailable() {
  // With VNNI, oneDNN's own kernels sum u8 x s8 products exactly in int32 (VPDPBUSD), four taps
  // an instruction: there they are the better choice.
  return Cpu().avx2 && !Cpu().vnni;
}

bool Int8DepthwiseConvApplies(const std::vector<int64_t>& w_shape, int64_t group,
                              const std::string& activation) {
  return Int8DepthwiseConvAvailable() && w_shape.size() == 4 && w_shape[1] == 1 &&
         group == w_shape[0] && group > 0 && w_shape[2] > 0 && w_shape[3] > 0 &&
         w_shape[2] * w_shape[3] <= kInt8DepthwiseMaxTaps &&
         (activation.empty() || activation == "Relu" || activation == "LeakyRelu" ||
          activation == "Clip" || activation == "HardSwish");
}

absl::StatusOr<std::unique_ptr<Kernel>> MakeInt8DepthwiseConvKernel(Int8DepthwiseConvSpec spec) {
  if (!Int8DepthwiseConvAvailable()) {
    return absl::FailedPreconditionError(
        "Octet's int8 depthwise convolution runs on CPUs with AVX2 and without VNNI");
  }
  const int64_t taps = spec.kernel_h * spec.kernel_w;
  auto int8 = [](DataType t) { return t == DataType::kUint8 || t == DataType::kInt8; };
  if (!int8(spec.x_type) || !int8(spec.y_type) || spec.batch < 0 || spec.channels < 1 ||
      spec.in_h < 1 || spec.in_w < 1 || spec.out_h < 1 || spec.out_w < 1 || taps < 1 ||
      taps > kInt8DepthwiseMaxTaps || spec.kernel_h < 1 || spec.kernel_w < 1 || spec.stride_h < 1 ||
      spec.stride_w < 1 || spec.dilation_h < 1 || spec.dilation_w < 1 || spec.pad_top < 0 ||
      spec.pad_left < 0 || static_cast<int64_t>(spec.weights.size()) != spec.channels * taps ||
      static_cast<int64_t>(spec.bias.size()) != spec.channels ||
      static_cast<int64_t>(spec.scale.size()) != spec.channels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inconsistent int8 depthwise convolution: ", spec.channels, " channels, ", spec.kernel_h,
        "x", spec.kernel_w, " taps, ", spec.weights.size(), " weights"));
  }
  return std::make_unique<Int8DepthwiseConvKernel>(std::move(spec));
}

}  // namespace octet::cpu
