// Octet's exact int8 matrix product for AVX2 CPUs without VNNI: Y[m, n] = requantize(sum_k
// A[m, k] W[k, n]) with u8 or s8 A and s8 W of any 8-bit value. oneDNN 2.6's AVX2 int8 kernels
// multiply with VPMADDUBSW, whose int16 pair sums saturate for weights beyond +-64, so 8-bit
// weights would have to run in float; here sources and weights are widened to int16 and summed
// in pairs by VPMADDWD into int32, exactly (as Octet's depthwise kernel does). A register tile of
// 4 rows x 16 columns; weights packed once as int16 pairs [N/16][K/2][16][2].
#ifndef OCTET_ENGINE_RUNTIME_CPU_INT8_GEMM_H_
#define OCTET_ENGINE_RUNTIME_CPU_INT8_GEMM_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/runtime/kernel.h"
#include "engine/tensor/data_type.h"

namespace octet::cpu {

struct Int8GemmSpec {
  int64_t k = 0, n = 0;
  DataType a_type = DataType::kUint8;  // kUint8 or kInt8
  std::vector<int8_t> weights;         // [k, n], row-major
  // Per column: accumulator to output units, and what is added in output units (the bias, and
  // the source zero point's term folded in).
  std::vector<float> scales, addend;
  // The activation in output units, before the destination zero point: x < 0 becomes
  // negative_slope * x (0 for Relu, 1 for none), then clamped to [low, high].
  float negative_slope = 1.0f;
  float low = -3.4e38f, high = 3.4e38f;
  DataType y_type = DataType::kUint8;  // kUint8, kInt8 or kFloat32
  int32_t y_zero = 0;
  // Above 1: the source is channels-first [images, k, pixels] (a plain NCHW tensor), read as
  // rows of k per pixel through a transposed copy; `rows` (images x pixels) sizes that copy.
  int64_t pixels = 0, rows = 0;
};

// Whether this CPU runs the kernel: AVX2 without VNNI (with VNNI, oneDNN's kernels are exact and
// faster), under the instruction-set cap.
bool Int8GemmAvailable();

// The kernel over inputs[0], any tensor of rows of `k` elements, writing rows of `n`.
absl::StatusOr<std::unique_ptr<Kernel>> MakeInt8GemmKernel(Int8GemmSpec spec);

}  // namespace octet::cpu

#endif  // OCTET_ENGINE_RUNTIME_CPU_INT8_GEMM_H_
