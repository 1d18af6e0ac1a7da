// Winograd F(2x2, 3x3) convolutions (cpu/winograd_f2x3.h) whose transformed weights outgrow a
// core's caches (more than 128 x 128 channels): Octet's transforms around passes of tiles through
// oneDNN's matmul ([16, tiles, IC] x [16, IC, OC]), each pass sized to stay in the caches.
#ifndef OCTET_ENGINE_RUNTIME_ONEDNN_WINOGRAD_CONV_H_
#define OCTET_ENGINE_RUNTIME_ONEDNN_WINOGRAD_CONV_H_

#include "absl/status/statusor.h"
#include "engine/runtime/cpu/winograd_f2x3.h"
#include "engine/runtime/kernel.h"

namespace octet::onednn {

// The kernel, its output nChw8c float32 [batch, out_channels, out_h, out_w]; with `sum_input` >= 0
// the result is added to the residual already in the output buffer. For shapes
// cpu::WinogradApplies accepts.
absl::StatusOr<BuiltKernel> BuildWinogradMatmulConv(const KernelBuildContext& context,
                                                    const cpu::WinogradConvShape& shape,
                                                    int sum_input);

}  // namespace octet::onednn

#endif  // OCTET_ENGINE_RUNTIME_ONEDNN_WINOGRAD_CONV_H_
