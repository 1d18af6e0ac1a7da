// Octet's own int8 depthwise convolution (one 2-D filter per channel) for CPUs with AVX2 and
// without VNNI.
//
// oneDNN 2.6's int8 depthwise kernel on AVX2 multiplies with VPMADDUBSW, whose pairwise sums
// saturate at 16 bits (so it is exact only for weights within 7 bits) and which runs well below the
// machine's speed on the thin layers of MobileNets. This kernel widens source and weights to 16
// bits and sums pairs of taps with VPMADDWD into int32: exact for any u8/s8 source and s8 weights,
// channels-last in and out (what the int8 convolutions around it read and write), with the
// requantization and the activation applied in registers before the single store. For u8 sources
// and weights whose summed pairs stay within VPMADDUBSW's 16 bits (7-bit jobs), 3x3 and 5x5
// filters take a second body that sums 4 taps per channel by VPMADDUBSW and VPMADDWD by ones.
#ifndef OCTET_ENGINE_RUNTIME_CPU_INT8_DEPTHWISE_CONV_H_
#define OCTET_ENGINE_RUNTIME_CPU_INT8_DEPTHWISE_CONV_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/runtime/kernel.h"

namespace octet::cpu {

// What the kernel computes, per image n, channel c and output position (oh, ow):
//   acc = sum over the kernel_h x kernel_w taps of w[c][kh][kw] * x[n][c][ih][iw],
//         ih = oh * stride_h - pad_top + kh * dilation_h (likewise iw), where a tap outside the
//         input reads x_zero (the real 0 ONNX pads with);
//   v   = (acc + bias[c]) * scale[c], then the activation, then times post_scale;
//   y   = saturate(round_half_to_even(v) + y_zero).
// A source zero point therefore belongs in the bias (bias[c] -= x_zero * sum of w[c]), as the
// int8 convolution's caller folds it anyway.
struct Int8DepthwiseConvSpec {
  enum class Activation { kNone, kRelu, kLeakyRelu, kClip, kHardSwish };

  DataType x_type = DataType::kUint8;  // kUint8 or kInt8
  DataType y_type = DataType::kUint8;  // kUint8 or kInt8
  bool x_channels_last = true;         // else plain NCHW
  int64_t batch = 0, channels = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 0, kernel_w = 0, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;
  int32_t x_zero = 0, y_zero = 0;
  std::vector<int8_t> weights;  // [channels][kernel_h][kernel_w]
  std::vector<float> bias;      // [channels], accumulator units
  std::vector<float> scale;     // [channels]
  Activation activation = Activation::kNone;
  // LeakyRelu: alpha is the slope. Clip: [alpha, beta] in the units v has when it is applied.
  float alpha = 0.0f, beta = 0.0f;
  // 1 / y_scale when the activation needs real units (HardSwish: scale is then s_x * s_w[c]),
  // else 1.
  float post_scale = 1.0f;
};

// The most taps (kernel_h * kernel_w) the kernel takes.
inline constexpr int64_t kInt8DepthwiseMaxTaps = 64;

// Whether this CPU runs the kernel: it has AVX2 but no VNNI (with VNNI, oneDNN's kernels are exact
// and use it).
bool Int8DepthwiseConvAvailable();

// Whether a convolution whose weights have shape `w_shape` ([C_out, C_in / group, kh, kw]) with
// `group` groups and fused activation `activation` ("" or the ONNX op type) runs on this kernel
// here: two spatial dims, one filter per input channel, at most kInt8DepthwiseMaxTaps taps, an
// activation among Relu, LeakyRelu, Clip, HardSwish, and Int8DepthwiseConvAvailable().
bool Int8DepthwiseConvApplies(const std::vector<int64_t>& w_shape, int64_t group,
                              const std::string& activation);

// The kernel for `spec`; its output is y_type [batch, channels, out_h, out_w] channels-last.
// INVALID_ARGUMENT when the spec is inconsistent, FAILED_PRECONDITION where the kernel is not
// available.
absl::StatusOr<std::unique_ptr<Kernel>> MakeInt8DepthwiseConvKernel(Int8DepthwiseConvSpec spec);

}  // namespace octet::cpu

#endif  // OCTET_ENGINE_RUNTIME_CPU_INT8_DEPTHWISE_CONV_H_
