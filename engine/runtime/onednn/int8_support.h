// When oneDNN's int8 convolution computes exactly on this CPU.
#ifndef OCTET_ENGINE_RUNTIME_ONEDNN_INT8_SUPPORT_H_
#define OCTET_ENGINE_RUNTIME_ONEDNN_INT8_SUPPORT_H_

#include <string>

#include "absl/status/status.h"
#include "engine/runtime/cpu/int8_gemm.h"
#include "engine/runtime/kernel.h"
#include "engine/runtime/onednn/onednn_common.h"
#include "engine/tensor/data_type.h"

namespace octet::onednn {

// Empty when an int8 convolution with `source` activations and int8 weights of largest magnitude
// `max_abs_weight` gives the exact integer result here; otherwise why not. With VNNI (AVX-512 or
// AVX2) the u8 x s8 dot products accumulate in int32. Without it, oneDNN multiplies with
// VPMADDUBSW, whose pairwise int16 sums saturate unless |w| <= 64 for u8 sources, and it halves
// the weights of s8 sources (rounding them).
std::string Int8ConvInexactReason(DataType source, int max_abs_weight);

// The applicability of oneDNN's int8 convolution and product to an Int8Conv or Int8MatMul node
// (u8/s8 source at input 0, constant s8 weights at input 3): OK when exact here, else
// FAILED_PRECONDITION with Int8ConvInexactReason. Reads only types and constants, so the int8
// lowering asks it before shapes are known.
absl::Status OneDnnInt8ProductExact(const KernelBuildContext& context);

// The applicability of Octet's exact AVX2 product (cpu/int8_gemm.h) to an Int8Conv or Int8MatMul
// node: AVX2 without VNNI, a u8/s8 source, constant s8 weights, and at most an activation it
// applies in output units (Relu, LeakyRelu, Clip). Types, constants and attributes only.
absl::Status OctetInt8ProductApplies(const KernelBuildContext& context);

// The source zero point (input 2) and the bias alone (input 7, if any), in output units, of an
// Int8Conv or Int8MatMul over `n` outputs: the product takes the zero point out of its int32
// sums exactly, where folded into the float addend a large term would cancel and round.
void SetInt8GemmZeroPointAndBias(const KernelBuildContext& context,
                                 const Int8Activation& activation, float y_scale, int64_t n,
                                 cpu::Int8GemmSpec* spec);

// `activation` as the product applies it, in output units (Clip's bounds divided by y_scale).
void SetInt8GemmActivation(const Int8Activation& activation, float y_scale,
                           cpu::Int8GemmSpec* spec);

}  // namespace octet::onednn

#endif  // OCTET_ENGINE_RUNTIME_ONEDNN_INT8_SUPPORT_H_
