// Octet's exact int8 3x3 convolution by Winograd's F(2x2, 3x3) for AVX2 CPUs without VNNI: the
// same results as the direct product (cpu/int8_gemm.h), bit for bit, with 16 multiplications per
// 2x2 outputs and channel instead of 36.
//
// Each 4x4 source tile d (zero point subtracted: |d| <= 255) becomes V = B^T d B (|V| <= 1020,
// int16); the weights g of each channel pair become U = G' g G'^T with G' = 2G, integer
// (|U| <= 9 x 128 = 1152, int16); the 16 products U V are summed over channels by VPMADDWD into
// int32 (16 matrix products: tiles x channels times channels x output channels, on the direct
// product's register loop); A^T M A is 4 times the direct convolution's sum. The int32 sums may
// wrap on the way, but additions and subtractions modulo 2^32 give the true result whenever it
// fits int32, and 4 x 9 x channels x 255 x 128 does for up to kInt8WinogradMaxChannels channels;
// the division by 4 is then exact. Requantization, activation and store as the direct product.
#ifndef OCTET_ENGINE_RUNTIME_CPU_INT8_WINOGRAD_H_
#define OCTET_ENGINE_RUNTIME_CPU_INT8_WINOGRAD_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/runtime/cpu/int8_gemm.h"
#include "engine/runtime/kernel.h"

namespace octet::cpu {

// The most input channels whose sums stay exact (see above).
constexpr int64_t kInt8WinogradMaxChannels = 1024;

// Whether the kernel computes `spec`: a convolution (spec.convolution) with a 3x3 kernel, stride
// 1 and no dilation, of at most kInt8WinogradMaxChannels channels, on a CPU where
// Int8GemmAvailable(); else why not.
absl::Status Int8WinogradApplies(const Int8GemmSpec& spec);

// Whether the kernel beats the direct product on `spec` (one it applies to): with at least 32 input
// and output channels. Below, transforming every tile costs more than the 2.25 times fewer
// multiplications save (build/bench/octet_int8_conv_bench times both).
bool Int8WinogradFaster(const Int8GemmSpec& spec);

// The kernel over inputs[0] (channels-last [images, in_h, in_w, channels], or plain with
// spec.pixels set, read through a channels-last copy) writing rows of spec.n channels per output
// pixel, as MakeInt8GemmKernel's convolution.
absl::StatusOr<std::unique_ptr<Kernel>> MakeInt8WinogradKernel(Int8GemmSpec spec);

}  // namespace octet::cpu

#endif  // OCTET_ENGINE_RUNTIME_CPU_INT8_WINOGRAD_H_
