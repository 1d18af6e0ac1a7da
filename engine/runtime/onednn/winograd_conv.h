// Float 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray 2016):
// each 2x2 block of outputs from a 4x4 block of inputs with 16 multiplications per input and
// output channel pair instead of 36. The 16 products are matrix products over the channels
// ([tiles x IC] x [IC x OC]); the transforms around them are Octet's (AVX2), in oneDNN's nChw8c
// layout in and out, with the bias, a residual sum and the activation fused into the output
// transform. Up to 128 x 128 channels the kernel is fused: each thread takes 6 tiles at a time
// through the input transform, the 16 products (6 tiles x 16 output channels in registers) and
// the output transform while they are in its caches; with more, the transformed weights outgrow
// the caches and the tiles go in larger passes through oneDNN's matmul. oneDNN 2.6 has Winograd
// only for AVX-512; on AVX2 its direct convolution reaches about 75% of the FMA peak on ResNet's
// shapes, and far less on small images or few channels.
#ifndef OCTET_ENGINE_RUNTIME_ONEDNN_WINOGRAD_CONV_H_
#define OCTET_ENGINE_RUNTIME_ONEDNN_WINOGRAD_CONV_H_

#include <optional>

#include "absl/status/statusor.h"
#include "engine/runtime/kernel.h"

namespace octet::onednn {

struct WinogradConvShape {
  int64_t batch, in_channels, out_channels, in_h, in_w, out_h, out_w;
  int64_t pad_top, pad_left;
  int64_t group = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;  // ONNX's
};

// Whether a convolution is run this way here: 2-D 3x3, stride 1, no dilation, one group,
// channels multiples of 8 and at least 16 in and out (with 8, the transforms cost what the saved
// multiplications gain), the source channel-blocked by 8, constant weights and bias, an
// activation among Relu and Clip (or none), and a CPU with AVX2 and FMA.
bool WinogradConvApplies(const KernelBuildContext& context, const WinogradConvShape& shape);

// The kernel, its output nChw8c float32 [batch, out_channels, out_h, out_w]. With
// context.fuse_sum the result is added to the residual already in the output buffer.
absl::StatusOr<BuiltKernel> BuildWinogradConv(const KernelBuildContext& context,
                                              const WinogradConvShape& shape, int sum_input);

}  // namespace octet::onednn

#endif  // OCTET_ENGINE_RUNTIME_ONEDNN_WINOGRAD_CONV_H_
