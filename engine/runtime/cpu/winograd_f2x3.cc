#include "engine/runtime/cpu/winograd_f2x3.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/cpu/cpu_features.h"

namespace octet::cpu {
namespace {

constexpr int64_t kBlock = WinogradF2x3::kBlock;
constexpr int64_t kPoints = WinogradF2x3::kPoints;
constexpr int64_t kFusedTiles = WinogradF2x3::kFusedTiles;
// Fewer channels: the transforms cost what the saved multiplications gain.
constexpr int64_t kMinChannels = 16;
// The fused path reads all transformed weights (16 * IC * OC floats) for every block of tiles:
// up to 128 x 128 channels (1 MiB) they stay in a core's caches and the fused path beats passes
// through a matmul; beyond, re-reading them from memory for every block costs more than the
// passes do.
constexpr int64_t kMaxFusedChannelProduct = 128 * 128;

// u = G g G^T for one 3x3 filter g (row-major), G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
void TransformFilter(const float* g, float* u) {
  float t[4][3];
  for (int j = 0; j < 3; ++j) {
    const float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
    t[0][j] = g0;
    t[1][j] = 0.5f * (g0 + g1 + g2);
    t[2][j] = 0.5f * (g0 - g1 + g2);
    t[3][j] = g2;
  }
  for (int i = 0; i < 4; ++i) {
    const float a = t[i][0], b = t[i][1], c = t[i][2];
    u[i * 4 + 0] = a;
    u[i * 4 + 1] = 0.5f * (a + b + c);
    u[i * 4 + 2] = 0.5f * (a - b + c);
    u[i * 4 + 3] = c;
  }
}

// The work items [0, items) shared among at most `max_threads` threads in contiguous ranges;
// `range(begin, end, thread)` is compiled for AVX2 on its own (an OpenMP region's outlined body
// would not inherit the target attribute).
template <typename F>
void Parallel(int64_t items, F range, int max_threads = std::numeric_limits<int>::max()) {
#pragma omp parallel num_threads(std::min(max_threads, omp_get_max_threads()))
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t begin = items * thread / threads, end = items * (thread + 1) / threads;
    if (begin < end) range(begin, end, static_cast<int>(thread));
  }
}

// The 16 transformed values (B^T d B) of the tile whose outputs start at (oh0, ow0) of image n,
// channel block cb, at out[p * stride]: d the 4x4 input patch (zero outside the input),
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
__attribute__((target("avx2,fma"), always_inline)) inline void InputTile(const WinogradConvShape& s,
                                                                         const float* x, int64_t n,
                                                                         int64_t oh0, int64_t ow0,
                                                                         int64_t cb, float* out,
                                                                         int64_t stride) {
  const int64_t h0 = oh0 - s.pad_top, w0 = ow0 - s.pad_left;
  const float* plane = x + (n * (s.in_channels / kBlock) + cb) * s.in_h * s.in_w * kBlock;
  __m256 d[4][4];
  if (h0 >= 0 && h0 + 4 <= s.in_h && w0 >= 0 && w0 + 4 <= s.in_w) {
    const float* at = plane + (h0 * s.in_w + w0) * kBlock;
#pragma GCC unroll 4
    for (int a = 0; a < 4; ++a) {
#pragma GCC unroll 4
      for (int b = 0; b < 4; ++b) d[a][b] = _mm256_loadu_ps(at + (a * s.in_w + b) * kBlock);
    }
  } else {
#pragma GCC unroll 4
    for (int a = 0; a < 4; ++a) {
      const int64_t h = h0 + a;
#pragma GCC unroll 4
      for (int b = 0; b < 4; ++b) {
        const int64_t w = w0 + b;
        d[a][b] = h >= 0 && h < s.in_h && w >= 0 && w < s.in_w
                      ? _mm256_loadu_ps(plane + (h * s.in_w + w) * kBlock)
                      : _mm256_setzero_ps();
      }
    }
  }
  __m256 rows[4][4];
#pragma GCC unroll 4
  for (int b = 0; b < 4; ++b) {
    rows[0][b] = _mm256_sub_ps(d[0][b], d[2][b]);
    rows[1][b] = _mm256_add_ps(d[1][b], d[2][b]);
    rows[2][b] = _mm256_sub_ps(d[2][b], d[1][b]);
    rows[3][b] = _mm256_sub_ps(d[1][b], d[3][b]);
  }
#pragma GCC unroll 4
  for (int a = 0; a < 4; ++a) {
    _mm256_storeu_ps(out + (a * 4 + 0) * stride, _mm256_sub_ps(rows[a][0], rows[a][2]));
    _mm256_storeu_ps(out + (a * 4 + 1) * stride, _mm256_add_ps(rows[a][1], rows[a][2]));
    _mm256_storeu_ps(out + (a * 4 + 2) * stride, _mm256_sub_ps(rows[a][2], rows[a][1]));
    _mm256_storeu_ps(out + (a * 4 + 3) * stride, _mm256_sub_ps(rows[a][1], rows[a][3]));
  }
}

// The 2x2 outputs A^T M A of one tile and output channel block from in[p * stride],
// A^T = [1 1 1 0; 0 1 -1 -1], plus the bias (and the residual already in y), through the
// activation, into y (nChw8c) from (oh0, ow0) of image n.
__attribute__((target("avx2,fma"), always_inline)) inline void OutputTile(
    const WinogradConvShape& s, const WinogradEpilogue& e, const float* in, int64_t stride,
    int64_t n, int64_t oh0, int64_t ow0, int64_t ob, float* y) {
  __m256 p[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) p[i] = _mm256_loadu_ps(in + i * stride);
  __m256 rows[2][4];
#pragma GCC unroll 4
  for (int b = 0; b < 4; ++b) {
    rows[0][b] = _mm256_add_ps(_mm256_add_ps(p[b], p[4 + b]), p[8 + b]);
    rows[1][b] = _mm256_sub_ps(_mm256_sub_ps(p[4 + b], p[8 + b]), p[12 + b]);
  }
  const __m256 bias = _mm256_loadu_ps(e.bias.data() + ob * kBlock);
  const __m256 low = _mm256_set1_ps(e.low), high = _mm256_set1_ps(e.high);
  float* plane = y + (n * (s.out_channels / kBlock) + ob) * s.out_h * s.out_w * kBlock;
#pragma GCC unroll 2
  for (int a = 0; a < 2; ++a) {
    const int64_t oh = oh0 + a;
    if (oh >= s.out_h) break;
    const __m256 out[2] = {_mm256_add_ps(_mm256_add_ps(rows[a][0], rows[a][1]), rows[a][2]),
                           _mm256_sub_ps(_mm256_sub_ps(rows[a][1], rows[a][2]), rows[a][3])};
#pragma GCC unroll 2
    for (int b = 0; b < 2; ++b) {
      const int64_t ow = ow0 + b;
      if (ow >= s.out_w) break;
      float* at = plane + (oh * s.out_w + ow) * kBlock;
      __m256 value = _mm256_add_ps(out[b], bias);
      if (e.sum_input >= 0) value = _mm256_add_ps(value, _mm256_loadu_ps(at));
      if (e.clamp) value = _mm256_min_ps(_mm256_max_ps(value, low), high);
      _mm256_storeu_ps(at, value);
    }
  }
}

// M[t][o..o+8*kVectors) = sum over c of V[t][c] U[c][o..] for kTiles tiles, in registers.
template <int kTiles, int kVectors>
__attribute__((target("avx2,fma"), always_inline)) inline void ProductTile(int64_t ic, int64_t oc,
                                                                           const float* v,
                                                                           const float* u,
                                                                           float* m) {
  __m256 acc[kTiles][kVectors];
#pragma GCC unroll 8
  for (int t = 0; t < kTiles; ++t) {
#pragma GCC unroll 2
    for (int q = 0; q < kVectors; ++q) acc[t][q] = _mm256_setzero_ps();
  }
  for (int64_t c = 0; c < ic; ++c) {
    __m256 w[kVectors];
#pragma GCC unroll 2
    for (int q = 0; q < kVectors; ++q) w[q] = _mm256_loadu_ps(u + c * oc + 8 * q);
#pragma GCC unroll 8
    for (int t = 0; t < kTiles; ++t) {
      const __m256 b = _mm256_broadcast_ss(v + t * ic + c);
#pragma GCC unroll 2
      for (int q = 0; q < kVectors; ++q) acc[t][q] = _mm256_fmadd_ps(b, w[q], acc[t][q]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < kTiles; ++t) {
#pragma GCC unroll 2
    for (int q = 0; q < kVectors; ++q) _mm256_storeu_ps(m + t * oc + 8 * q, acc[t][q]);
  }
}

// The products of the `count` (at most kFusedTiles) tiles of a block.
template <int kVectors>
__attribute__((target("avx2,fma"))) void ProductTiles(int64_t count, int64_t ic, int64_t oc,
                                                      const float* v, const float* u, float* m) {
  switch (count) {
    case 6:
      return ProductTile<6, kVectors>(ic, oc, v, u, m);
    case 5:
      return ProductTile<5, kVectors>(ic, oc, v, u, m);
    case 4:
      return ProductTile<4, kVectors>(ic, oc, v, u, m);
    case 3:
      return ProductTile<3, kVectors>(ic, oc, v, u, m);
    case 2:
      return ProductTile<2, kVectors>(ic, oc, v, u, m);
    default:
      return ProductTile<1, kVectors>(ic, oc, v, u, m);
  }
}

// Work item i of a transform over the tiles from `first`, `blocks` channel blocks per tile: the
// tile (counted from `first`), its image, the output row and column it starts at, the block.
struct TileItem {
  int64_t t, n, oh0, ow0, block;
};
TileItem ItemAt(const WinogradF2x3& w, int64_t first, int64_t i, int64_t blocks) {
  const int64_t per_image = w.tiles_h() * w.tiles_w();
  const int64_t t = first + i / blocks, r = t % per_image;
  return {t - first, t / per_image, 2 * (r / w.tiles_w()), 2 * (r % w.tiles_w()), i % blocks};
}

__attribute__((target("avx2,fma"))) void TransformInputRange(const WinogradF2x3& w, const float* x,
                                                             int64_t first, int64_t count,
                                                             int64_t begin, int64_t end, float* v) {
  const int64_t ic = w.shape().in_channels;
  for (int64_t i = begin; i < end; ++i) {
    const TileItem it = ItemAt(w, first, i, ic / kBlock);
    InputTile(w.shape(), x, it.n, it.oh0, it.ow0, it.block, v + it.t * ic + it.block * kBlock,
              count * ic);
  }
}

__attribute__((target("avx2,fma"))) void TransformOutputRange(const WinogradF2x3& w, const float* m,
                                                              int64_t first, int64_t count,
                                                              int64_t begin, int64_t end,
                                                              float* y) {
  const int64_t oc = w.shape().out_channels;
  for (int64_t i = begin; i < end; ++i) {
    const TileItem it = ItemAt(w, first, i, oc / kBlock);
    OutputTile(w.shape(), w.epilogue(), m + it.t * oc + it.block * kBlock, count * oc, it.n, it.oh0,
               it.ow0, it.block, y);
  }
}

// Blocks [begin, end) of kFusedTiles tiles (the last may be short): V of the block, its 16
// products with U in registers (tiles x 16 output channels at a time), then the outputs.
__attribute__((target("avx2,fma"))) void FusedRange(const WinogradF2x3& w, const float* x,
                                                    const float* u, float* y, int64_t begin,
                                                    int64_t end, float* v, float* m) {
  const WinogradConvShape& s = w.shape();
  const int64_t tiles = w.tiles(), tiles_h = w.tiles_h(), tiles_w = w.tiles_w();
  const int64_t ic = s.in_channels, oc = s.out_channels;
  const int64_t in_blocks = ic / kBlock, out_blocks = oc / kBlock;
  for (int64_t block = begin; block < end; ++block) {
    const int64_t first = block * kFusedTiles;
    const int64_t count = std::min<int64_t>(kFusedTiles, tiles - first);
    // The block's tiles: image, tile row and column of each, stepping along rows.
    int64_t n[kFusedTiles], th[kFusedTiles], tw[kFusedTiles];
    n[0] = first / (tiles_h * tiles_w);
    th[0] = first / tiles_w % tiles_h;
    tw[0] = first % tiles_w;
    for (int64_t t = 1; t < count; ++t) {
      n[t] = n[t - 1], th[t] = th[t - 1], tw[t] = tw[t - 1] + 1;
      if (tw[t] == tiles_w) tw[t] = 0, th[t] += 1;
      if (th[t] == tiles_h) th[t] = 0, n[t] += 1;
    }
    for (int64_t t = 0; t < count; ++t) {
      for (int64_t cb = 0; cb < in_blocks; ++cb) {
        InputTile(s, x, n[t], 2 * th[t], 2 * tw[t], cb, v + t * ic + cb * kBlock, count * ic);
      }
    }
    for (int64_t p = 0; p < kPoints; ++p) {
      const float* vp = v + p * count * ic;
      const float* up = u + p * ic * oc;
      float* mp = m + p * count * oc;
      int64_t o = 0;
      for (; o + 16 <= oc; o += 16) ProductTiles<2>(count, ic, oc, vp, up + o, mp + o);
      if (o < oc) ProductTiles<1>(count, ic, oc, vp, up + o, mp + o);
    }
    for (int64_t t = 0; t < count; ++t) {
      for (int64_t ob = 0; ob < out_blocks; ++ob) {
        OutputTile(s, w.epilogue(), m + t * oc + ob * kBlock, count * oc, n[t], 2 * th[t],
                   2 * tw[t], ob, y);
      }
    }
  }
}

class WinogradFusedConvKernel final : public Kernel {
 public:
  WinogradFusedConvKernel(WinogradF2x3 winograd, Tensor u, int threads)
      : winograd_(std::move(winograd)), u_(std::move(u)), threads_(threads) {}

  size_t scratchpad_bytes() const override { return winograd_.FusedScratchBytes(threads_); }
  std::string implementation() const override { return "winograd F(2x2,3x3):avx2 fused"; }

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    const int sum = winograd_.epilogue().sum_input;
    if (sum >= 0 && inputs[sum]->raw_data() != outputs[0]->raw_data()) {
      std::memcpy(outputs[0]->raw_data(), inputs[sum]->raw_data(), outputs[0]->byte_size());
    }
    winograd_.RunFused(inputs[0]->data<float>(), u_.data<float>(), outputs[0]->data<float>(),
                       static_cast<char*>(context.scratchpad), threads_);
    return absl::OkStatus();
  }

 private:
  WinogradF2x3 winograd_;
  Tensor u_;
  int threads_;
};

}  // namespace

absl::Status WinogradApplies(const KernelBuildContext& context, const WinogradConvShape& shape) {
  const TensorDesc& x = context.input(0);
  const Tensor* w = context.constant(1);
  const bool filter = w != nullptr && w->rank() == 4 && w->dim(2) == 3 && w->dim(3) == 3 &&
                      (!context.has_input(2) || context.constant(2) != nullptr);
  const bool geometry = x.shape.size() == 4 && shape.group == 1 && shape.stride_h == 1 &&
                        shape.stride_w == 1 && shape.dilation_h == 1 && shape.dilation_w == 1 &&
                        shape.out_h >= 2 && shape.out_w >= 2;
  const bool channels = shape.in_channels % kBlock == 0 && shape.out_channels % kBlock == 0 &&
                        shape.in_channels >= kMinChannels && shape.out_channels >= kMinChannels;
  const bool activation = !context.activation.has_value() ||
                          context.activation->kind == FusedActivation::Kind::kRelu ||
                          context.activation->kind == FusedActivation::Kind::kClip;
  if (Cpu().avx2 && x.channel_block == kBlock && filter && geometry && channels && activation) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      "needs AVX2, an nChw8c source, a 3x3 stride-1 undilated ungrouped filter of constant "
      "weights and bias, 16 channels or more in and out, and at most a Relu or Clip after it");
}

bool WinogradFusedFits(const WinogradConvShape& shape) {
  return shape.in_channels * shape.out_channels <= kMaxFusedChannelProduct;
}

WinogradEpilogue WinogradEpilogueOf(const KernelBuildContext& context, int64_t out_channels,
                                    int sum_input) {
  WinogradEpilogue epilogue;
  epilogue.bias.assign(out_channels, 0.0f);
  if (context.has_input(2)) {
    std::copy_n(context.constant(2)->data<float>(), out_channels, epilogue.bias.begin());
  }
  epilogue.sum_input = sum_input;
  if (context.activation.has_value()) {
    epilogue.clamp = true;
    if (context.activation->kind == FusedActivation::Kind::kRelu) {
      epilogue.high = std::numeric_limits<float>::infinity();
    } else {
      epilogue.low = context.activation->alpha;
      epilogue.high = context.activation->beta;
    }
  }
  return epilogue;
}

WinogradF2x3::WinogradF2x3(const WinogradConvShape& shape, WinogradEpilogue epilogue)
    : s_(shape),
      epilogue_(std::move(epilogue)),
      tiles_h_((shape.out_h + 1) / 2),
      tiles_w_((shape.out_w + 1) / 2),
      fused_m_offset_(AlignScratchpad(kPoints * kFusedTiles * shape.in_channels * sizeof(float))),
      fused_per_thread_(AlignScratchpad(
          fused_m_offset_ + kPoints * kFusedTiles * shape.out_channels * sizeof(float))) {}

absl::StatusOr<Tensor> WinogradF2x3::TransformFilters(const Tensor& w) {
  const int64_t oc = w.dim(0), ic = w.dim(1);
  OCTET_ASSIGN_OR_RETURN(Tensor u, Tensor::Create(DataType::kFloat32, {kPoints, ic, oc}));
  float* u_data = u.data<float>();
  for (int64_t o = 0; o < oc; ++o) {
    for (int64_t i = 0; i < ic; ++i) {
      float transformed[kPoints];
      TransformFilter(w.data<float>() + (o * ic + i) * 9, transformed);
      for (int64_t p = 0; p < kPoints; ++p) u_data[(p * ic + i) * oc + o] = transformed[p];
    }
  }
  return u;
}

void WinogradF2x3::TransformInput(const float* x, int64_t first, int64_t count, float* v) const {
  Parallel(count * (s_.in_channels / kBlock), [&](int64_t begin, int64_t end, int) {
    TransformInputRange(*this, x, first, count, begin, end, v);
  });
}

void WinogradF2x3::TransformOutput(const float* m, int64_t first, int64_t count, float* y) const {
  Parallel(count * (s_.out_channels / kBlock), [&](int64_t begin, int64_t end, int) {
    TransformOutputRange(*this, m, first, count, begin, end, y);
  });
}

void WinogradF2x3::RunFused(const float* x, const float* u, float* y, char* scratch,
                            int threads) const {
  Parallel((tiles() + kFusedTiles - 1) / kFusedTiles,
           [&](int64_t begin, int64_t end, int thread) {
             char* own = scratch + fused_per_thread_ * thread;
             FusedRange(*this, x, u, y, begin, end, reinterpret_cast<float*>(own),
                        reinterpret_cast<float*>(own + fused_m_offset_));
           },
           threads);
}

absl::StatusOr<BuiltKernel> BuildWinogradFusedConv(const KernelBuildContext& context,
                                                   const WinogradConvShape& shape, int sum_input) {
  OCTET_ASSIGN_OR_RETURN(Tensor u, WinogradF2x3::TransformFilters(*context.constant(1)));
  WinogradF2x3 winograd(shape, WinogradEpilogueOf(context, shape.out_channels, sum_input));
  BuiltKernel built;
  built.kernel = std::make_unique<WinogradFusedConvKernel>(std::move(winograd), std::move(u),
                                                           omp_get_max_threads());
  built.outputs.push_back({DataType::kFloat32,
                           {shape.batch, shape.out_channels, shape.out_h, shape.out_w},
                           static_cast<int>(kBlock)});
  built.notes = absl::StrCat(kFusedTiles, " tiles per block",
                             sum_input >= 0 ? ", residual Add fused (in place)" : "");
  return built;
}

}  // namespace octet::cpu
