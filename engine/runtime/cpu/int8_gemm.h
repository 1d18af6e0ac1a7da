// Octet's exact int8 matrix product for AVX2 CPUs without VNNI: Y[m, n] = requantize(sum_k
// A[m, k] W[k, n]) with u8 or s8 A and s8 W of any 8-bit value. oneDNN 2.6's AVX2 int8 kernels
// multiply with VPMADDUBSW, whose int16 pair sums saturate for weights beyond +-64, so 8-bit
// weights would have to run in float; here sources and weights are widened to int16 and summed
// in pairs by VPMADDWD into int32, exactly (as Octet's depthwise kernel does). A register tile of
// 4 rows x 16 columns, the loop over K unrolled by 4 pairs; weights packed once as int16 pairs
// [N/16][K/2][16][2]. The rows are located a chunk at a time (the chunk's values stay in L2), each
// chunk meets every column block before the next, and K is summed in passes of 256 pairs whose
// weights stay in L1 (the tiles' int32 sums kept between passes). On AMD Zen 3, VPMADDWD + VPADDD
// sums about four fifths of the products per cycle that VPMADDUBSW + VPMADDWD + VPADDD (oneDNN's
// 7-bit path) does, and 1.5-1.6 times what float FMA does (bench/product_peak.cc).
// A product's rows are widened a chunk at a time into a per-thread buffer. A convolution of one
// group runs as the product of its output pixels' receptive fields and its weights without
// gathering them: the source is widened once into a padded channels-last int16 copy, and a row's
// K is read from it as a few runs (a kernel row's taps x channels each), in place.
#ifndef OCTET_ENGINE_RUNTIME_CPU_INT8_GEMM_H_
#define OCTET_ENGINE_RUNTIME_CPU_INT8_GEMM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/runtime/kernel.h"
#include "engine/tensor/data_type.h"

namespace octet::cpu {

struct Int8GemmSpec {
  int64_t k = 0, n = 0;
  DataType a_type = DataType::kUint8;  // kUint8 or kInt8
  // The source's zero point, taken out of the int32 sums exactly (sum (a - a_zero) w): folded into
  // the float addend instead, a large term would cancel in float and round.
  int32_t a_zero = 0;
  std::vector<int8_t> weights;  // [k, n], row-major
  // Per column: accumulator to output units, and what is added in output units (the bias).
  std::vector<float> scales, addend;
  // The activation in output units, before the destination zero point: x < 0 becomes
  // negative_slope * x (0 for Relu, 1 for none), then clamped to [low, high].
  float negative_slope = 1.0f;
  float low = -3.4e38f, high = 3.4e38f;
  DataType y_type = DataType::kUint8;  // kUint8, kInt8 or kFloat32
  int32_t y_zero = 0;
  // Above 1: the source is channels-first [images, channels, pixels] (a plain NCHW tensor), read
  // as rows of channels per pixel (the channels are k, or the convolution's channels). `rows`, the
  // source's pixels (images x pixels), sizes the kernel's copy of the source: needed with
  // `pixels` above 1 and for a convolution.
  int64_t pixels = 0, rows = 0;
  // When set, the rows are the output pixels of a 2-D convolution of one group over a
  // channels-last source [images, in_h, in_w, channels] (or a plain one, with `pixels` = in_h x
  // in_w): row (image, oy, ox) holds the source at (oy * stride_h - pad_top + ky * dilation_h,
  // ox * stride_w - pad_left + kx * dilation_w) for every (ky, kx, channel), in that order, and
  // `pad` where that falls outside. k = kernel_h x kernel_w x channels; the weights' rows follow
  // the same order.
  struct Convolution {
    int64_t in_h = 0, in_w = 0, channels = 0, out_h = 0, out_w = 0;
    int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
    int64_t pad_top = 0, pad_left = 0;
    uint8_t pad = 0;  // the source zero point's byte (u8, or s8 in two's complement)
  };
  std::optional<Convolution> convolution;
  // A residual Add fused after the product, in place: the destination holds the Add's other
  // operand r (of y_type) on entry. The product's own result q (rounded and saturated as above) is
  // taken to the Add's units and r added: (q - y_zero) * scale + (r - zero) * residual_scale,
  // Relu if set, plus the Add's zero point, rounded and saturated to y_type again.
  struct Residual {
    float scale = 1.0f, residual_scale = 1.0f;
    int32_t zero = 0, y_zero = 0;
    bool relu = false;
  };
  std::optional<Residual> residual;
};

// The longest K the kernel sums (int32 sums of u8/s8 x s8 products stay exact up to it).
constexpr int64_t kInt8GemmMaxK = int64_t{1} << 16;

// Whether this CPU runs the kernel: AVX2 without VNNI (with VNNI, oneDNN's kernels are exact and
// faster), under the instruction-set cap.
bool Int8GemmAvailable();

// Whether `spec` is consistent: types, sizes, the zero point's range, the convolution's geometry.
absl::Status CheckInt8GemmSpec(const Int8GemmSpec& spec);

// The kernel over inputs[0], any tensor of rows of `k` elements, writing rows of `n`.
absl::StatusOr<std::unique_ptr<Kernel>> MakeInt8GemmKernel(Int8GemmSpec spec);

}  // namespace octet::cpu

#endif  // OCTET_ENGINE_RUNTIME_CPU_INT8_GEMM_H_
