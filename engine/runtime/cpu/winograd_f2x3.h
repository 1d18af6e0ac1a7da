// Float 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray 2016):
// each 2x2 block of outputs from a 4x4 block of inputs with 16 multiplications per input and
// output channel pair instead of 36. The 16 products are matrix products over the channels
// ([tiles x IC] x [IC x OC]); the transforms around them are Octet's (AVX2), in the nChw8c layout
// oneDNN's AVX2 kernels write, with the bias, a residual sum and the activation fused into the
// output transform.
//
// Two kernels use them. Up to 128 x 128 channels, Octet's fused kernel (here): each thread takes
// 6 tiles at a time through the input transform, the 16 products (6 tiles x 16 output channels in
// registers) and the output transform while they are in its caches. With more channels the
// transformed weights outgrow the caches, and the tiles go in larger passes through oneDNN's
// matmul (onednn/winograd_conv.h). oneDNN 2.6 has Winograd only for AVX-512.
#ifndef OCTET_ENGINE_RUNTIME_CPU_WINOGRAD_F2X3_H_
#define OCTET_ENGINE_RUNTIME_CPU_WINOGRAD_F2X3_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/runtime/kernel.h"
#include "engine/tensor/tensor.h"

namespace octet::cpu {

struct WinogradConvShape {
  int64_t batch, in_channels, out_channels, in_h, in_w, out_h, out_w;
  int64_t pad_top, pad_left;
  int64_t group = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;  // ONNX's
};

// What the output transform adds and applies: the bias, the residual already in the output
// (`sum_input` >= 0: the node input it comes from), the activation as a clamp to [low, high].
struct WinogradEpilogue {
  std::vector<float> bias;
  int sum_input = -1;
  bool clamp = false;
  float low = 0.0f, high = 0.0f;
};

// Whether a convolution can be computed this way here: 2-D 3x3, stride 1, no dilation, one group,
// channels multiples of 8 and at least 16 in and out (with 8, the transforms cost what the saved
// multiplications gain), the source channel-blocked by 8, constant weights and bias, an activation
// among Relu and Clip (or none), and a CPU with AVX2 and FMA. OK, or why not.
absl::Status WinogradApplies(const KernelBuildContext& context, const WinogradConvShape& shape);

// Whether the fused kernel keeps the transformed weights of this shape in a core's caches.
bool WinogradFusedFits(const WinogradConvShape& shape);

// The bias, residual input and activation of `context`'s node as an output transform applies them.
WinogradEpilogue WinogradEpilogueOf(const KernelBuildContext& context, int64_t out_channels,
                                    int sum_input);

class WinogradF2x3 {
 public:
  static constexpr int64_t kBlock = 8;       // nChw8c
  static constexpr int64_t kPoints = 16;     // transformed values per 4x4 tile
  static constexpr int64_t kFusedTiles = 6;  // tiles per block of the fused path

  WinogradF2x3(const WinogradConvShape& shape, WinogradEpilogue epilogue);

  // U[p][ic][oc] = (G g G^T)[p] of each filter g (oc, ic) of the float32 [OC, IC, 3, 3] `w`.
  static absl::StatusOr<Tensor> TransformFilters(const Tensor& w);

  const WinogradConvShape& shape() const { return s_; }
  const WinogradEpilogue& epilogue() const { return epilogue_; }
  int64_t tiles_h() const { return tiles_h_; }
  int64_t tiles_w() const { return tiles_w_; }
  int64_t tiles() const { return s_.batch * tiles_h_ * tiles_w_; }

  // V[p][t][c] for the tiles [first, first + count), among the OpenMP threads.
  void TransformInput(const float* x, int64_t first, int64_t count, float* v) const;
  // The outputs of the tiles [first, first + count) from M[p][t][oc] into y (nChw8c).
  void TransformOutput(const float* m, int64_t first, int64_t count, float* y) const;

  // The fused path over all tiles, with at most `threads` threads, `u` from TransformFilters and
  // FusedScratchBytes(threads) bytes of scratch.
  size_t FusedScratchBytes(int threads) const { return fused_per_thread_ * threads; }
  void RunFused(const float* x, const float* u, float* y, char* scratch, int threads) const;

 private:
  WinogradConvShape s_;
  WinogradEpilogue epilogue_;
  int64_t tiles_h_, tiles_w_;
  // The fused path's scratch per thread: V [16][kFusedTiles][IC], then M [16][kFusedTiles][OC].
  size_t fused_m_offset_, fused_per_thread_;
};

// Octet's fused kernel (WinogradFusedFits), its output nChw8c float32 [N, OC, OH, OW]; with
// `sum_input` >= 0 the result is added to the residual already in the output buffer.
absl::StatusOr<BuiltKernel> BuildWinogradFusedConv(const KernelBuildContext& context,
                                                   const WinogradConvShape& shape, int sum_input);

}  // namespace octet::cpu

#endif  // OCTET_ENGINE_RUNTIME_CPU_WINOGRAD_F2X3_H_
