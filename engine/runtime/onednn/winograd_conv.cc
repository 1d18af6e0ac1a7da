#include "engine/runtime/onednn/winograd_conv.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/onednn/onednn_common.h"

namespace octet::onednn {
namespace {

using dnnl::memory;

constexpr int64_t kBlock = 8;       // nChw8c
constexpr int64_t kPoints = 16;     // transformed values per 4x4 tile
constexpr int64_t kFusedTiles = 6;  // tiles per block of the fused path (a row of registers)
// Fewer channels: the transforms cost what the saved multiplications gain.
constexpr int64_t kMinChannels = 16;
// The fused path reads all transformed weights (16 * IC * OC floats) for every block of tiles:
// up to 128 x 128 channels (1 MiB) they stay in a core's caches and the fused path beats passes
// through oneDNN's matmul; beyond, re-reading them from memory for every block costs more than
// the passes do.
constexpr int64_t kMaxFusedChannelProduct = 128 * 128;

bool CpuHasAvx2Fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

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

enum class Activation { kNone, kRelu, kClip };

// What the output transform adds and applies: the bias, the residual already in the output
// (when sum_input >= 0, the node input it comes from), the activation as a clamp (Relu
// [0, inf), Clip [min, max]).
struct Epilogue {
  std::vector<float> bias;
  int sum_input = -1;
  Activation activation = Activation::kNone;
  float low = 0.0f, high = 0.0f;
};

class WinogradConvKernel final : public Kernel {
 public:
  struct Matmul {
    dnnl::matmul primitive;
    memory::desc src, weights, dst;
    Tensor packed_weights;
    std::string implementation;
  };

  // Passes of `chunk` tiles through oneDNN's matmul (`full`, and `tail` for the last pass).
  WinogradConvKernel(const WinogradConvShape& shape, Epilogue epilogue, int64_t chunk, Matmul full,
                     std::optional<Matmul> tail, size_t matmul_scratch, std::string implementation)
      : s_(shape),
        epilogue_(std::move(epilogue)),
        implementation_(std::move(implementation)),
        chunk_(chunk),
        full_(std::move(full)),
        tail_(std::move(tail)) {
    v_offset_ = AlignScratchpad(matmul_scratch);
    m_offset_ = AlignScratchpad(v_offset_ + kPoints * chunk_ * s_.in_channels * sizeof(float));
    total_ = m_offset_ + kPoints * chunk_ * s_.out_channels * sizeof(float);
  }

  // Fused: each thread takes blocks of kFusedTiles tiles through both transforms and the 16
  // products (Octet's own, from `u` [16][IC][OC]) while they are in its core's caches.
  WinogradConvKernel(const WinogradConvShape& shape, Epilogue epilogue, Tensor u, int threads,
                     std::string implementation)
      : s_(shape),
        epilogue_(std::move(epilogue)),
        implementation_(std::move(implementation)),
        fused_u_(std::move(u)),
        threads_(threads) {
    // Per thread: V [16][kFusedTiles][IC], then M [16][kFusedTiles][OC].
    m_offset_ = AlignScratchpad(kPoints * kFusedTiles * s_.in_channels * sizeof(float));
    per_thread_ =
        AlignScratchpad(m_offset_ + kPoints * kFusedTiles * s_.out_channels * sizeof(float));
    total_ = per_thread_ * threads_;
  }

  size_t scratchpad_bytes() const override { return total_; }
  std::string implementation() const override { return implementation_; }

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    const float* x = inputs[0]->data<float>();
    float* y = outputs[0]->data<float>();
    const int sum = epilogue_.sum_input;
    if (sum >= 0 && inputs[sum]->raw_data() != outputs[0]->raw_data()) {
      std::memcpy(y, inputs[sum]->raw_data(), outputs[0]->byte_size());
    }
    char* scratch = static_cast<char*>(context.scratchpad);
    if (fused_u_.has_value()) {
      RunFused(x, y, scratch);
      return absl::OkStatus();
    }
    auto* v = reinterpret_cast<float*>(scratch + v_offset_);
    auto* m = reinterpret_cast<float*>(scratch + m_offset_);
    const int64_t tiles = s_.batch * tiles_h_ * tiles_w_;
    const memory::desc scratch_desc =
        PlainDesc(Shape{static_cast<int64_t>(std::max<size_t>(v_offset_, 1))}, DataType::kUint8);
    try {
      for (int64_t first = 0; first < tiles; first += chunk_) {
        const int64_t count = std::min(chunk_, tiles - first);
        TransformInput(x, first, count, v);
        const Matmul& mm = count == chunk_ ? *full_ : *tail_;
        mm.primitive.execute(onednn::ThreadStream(),
                             {{DNNL_ARG_SRC, memory(mm.src, CpuEngine(), v)},
                              {DNNL_ARG_WEIGHTS, Wrap(mm.weights, mm.packed_weights)},
                              {DNNL_ARG_DST, memory(mm.dst, CpuEngine(), m)},
                              {DNNL_ARG_SCRATCHPAD, memory(scratch_desc, CpuEngine(), scratch)}});
        TransformOutput(m, first, count, y);
      }
    } catch (const dnnl::error& e) {
      return ToStatus(e, "Winograd convolution");
    }
    return absl::OkStatus();
  }

 private:
  // The work items [0, items) shared among at most `max_threads` threads in contiguous ranges;
  // `range(begin, end, thread)` is compiled for AVX2 on its own (an OpenMP region's outlined body
  // would not inherit the target attribute).
  template <typename F>
  static void Parallel(int64_t items, F range, int max_threads = std::numeric_limits<int>::max()) {
#pragma omp parallel num_threads(std::min(max_threads, omp_get_max_threads()))
    {
      const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
      const int64_t begin = items * thread / threads, end = items * (thread + 1) / threads;
      if (begin < end) range(begin, end, static_cast<int>(thread));
    }
  }

  void RunFused(const float* x, float* y, char* scratch) const {
    const int64_t tiles = s_.batch * tiles_h_ * tiles_w_;
    Parallel((tiles + kFusedTiles - 1) / kFusedTiles,
             [&](int64_t begin, int64_t end, int thread) {
               char* own = scratch + per_thread_ * thread;
               FusedRange(x, y, begin, end, reinterpret_cast<float*>(own),
                          reinterpret_cast<float*>(own + m_offset_));
             },
             threads_);
  }

  // Blocks [begin, end) of kFusedTiles tiles (the last may be short): V of the block, its 16
  // products with U in registers (tiles x 16 output channels at a time), then the outputs.
  __attribute__((target("avx2,fma"))) void FusedRange(const float* x, float* y, int64_t begin,
                                                      int64_t end, float* v, float* m) const {
    const int64_t tiles = s_.batch * tiles_h_ * tiles_w_;
    const int64_t ic = s_.in_channels, oc = s_.out_channels;
    const float* u = fused_u_->data<float>();
    const int64_t in_blocks = ic / kBlock, out_blocks = oc / kBlock;
    for (int64_t block = begin; block < end; ++block) {
      const int64_t first = block * kFusedTiles;
      const int64_t count = std::min<int64_t>(kFusedTiles, tiles - first);
      // The block's tiles: image, tile row and column of each, stepping along rows.
      int64_t n[kFusedTiles], th[kFusedTiles], tw[kFusedTiles];
      n[0] = first / (tiles_h_ * tiles_w_);
      th[0] = first / tiles_w_ % tiles_h_;
      tw[0] = first % tiles_w_;
      for (int64_t t = 1; t < count; ++t) {
        n[t] = n[t - 1], th[t] = th[t - 1], tw[t] = tw[t - 1] + 1;
        if (tw[t] == tiles_w_) tw[t] = 0, th[t] += 1;
        if (th[t] == tiles_h_) th[t] = 0, n[t] += 1;
      }
      for (int64_t t = 0; t < count; ++t) {
        for (int64_t cb = 0; cb < in_blocks; ++cb) {
          InputTile(x, n[t], 2 * th[t], 2 * tw[t], cb, v + t * ic + cb * kBlock, count * ic);
        }
      }
      for (int64_t p = 0; p < kPoints; ++p) {
        const float* vp = v + p * count * ic;
        const float* up = u + p * ic * oc;
        float* mp = m + p * count * oc;
        int64_t o = 0;
        for (; o + 16 <= oc; o += 16) ProductTiles<2>(count, vp, up + o, mp + o);
        if (o < oc) ProductTiles<1>(count, vp, up + o, mp + o);
      }
      for (int64_t t = 0; t < count; ++t) {
        for (int64_t ob = 0; ob < out_blocks; ++ob) {
          OutputTile(m + t * oc + ob * kBlock, count * oc, n[t], 2 * th[t], 2 * tw[t], ob, y);
        }
      }
    }
  }

  // M[t][o..o+8*kVectors) = sum over c of V[t][c] U[c][o..] for the `count` tiles of a block.
  template <int kVectors>
  __attribute__((target("avx2,fma"))) void ProductTiles(int64_t count, const float* v,
                                                        const float* u, float* m) const {
    switch (count) {
      case 6:
        return ProductTile<6, kVectors>(v, u, m);
      case 5:
        return ProductTile<5, kVectors>(v, u, m);
      case 4:
        return ProductTile<4, kVectors>(v, u, m);
      case 3:
        return ProductTile<3, kVectors>(v, u, m);
      case 2:
        return ProductTile<2, kVectors>(v, u, m);
      default:
        return ProductTile<1, kVectors>(v, u, m);
    }
  }

  template <int kTiles, int kVectors>
  __attribute__((target("avx2,fma"), always_inline)) inline void ProductTile(const float* v,
                                                                             const float* u,
                                                                             float* m) const {
    const int64_t ic = s_.in_channels, oc = s_.out_channels;
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

  void TransformInput(const float* x, int64_t first, int64_t count, float* v) const {
    Parallel(count * (s_.in_channels / kBlock), [&](int64_t begin, int64_t end, int) {
      TransformInputRange(x, first, count, begin, end, v);
    });
  }

  void TransformOutput(const float* m, int64_t first, int64_t count, float* y) const {
    Parallel(count * (s_.out_channels / kBlock), [&](int64_t begin, int64_t end, int) {
      TransformOutputRange(m, first, count, begin, end, y);
    });
  }

  // V[p][t][c] = (B^T d B)[p] for the tiles [first, first + count) (items [begin, end) of tile and
  // channel block).
  __attribute__((target("avx2,fma"))) void TransformInputRange(const float* x, int64_t first,
                                                               int64_t count, int64_t begin,
                                                               int64_t end, float* v) const {
    const int64_t ic = s_.in_channels;
    for (int64_t i = begin; i < end; ++i) {
      const TileItem it = ItemAt(first, i, ic / kBlock);
      InputTile(x, it.n, it.oh0, it.ow0, it.block, v + it.t * ic + it.block * kBlock, count * ic);
    }
  }

  // The outputs of the tiles [first, first + count) from M (items [begin, end) of tile and
  // channel block).
  __attribute__((target("avx2,fma"))) void TransformOutputRange(const float* m, int64_t first,
                                                                int64_t count, int64_t begin,
                                                                int64_t end, float* y) const {
    const int64_t oc = s_.out_channels;
    for (int64_t i = begin; i < end; ++i) {
      const TileItem it = ItemAt(first, i, oc / kBlock);
      OutputTile(m + it.t * oc + it.block * kBlock, count * oc, it.n, it.oh0, it.ow0, it.block, y);
    }
  }

  // Work item i of a transform over the tiles from `first`, `blocks` channel blocks per tile:
  // the tile (counted from `first`), its image, the output row and column it starts at, and
  // the channel block.
  struct TileItem {
    int64_t t, n, oh0, ow0, block;
  };
  TileItem ItemAt(int64_t first, int64_t i, int64_t blocks) const {
    const int64_t per_image = tiles_h_ * tiles_w_;
    const int64_t t = first + i / blocks, r = t % per_image;
    return {t - first, t / per_image, 2 * (r / tiles_w_), 2 * (r % tiles_w_), i % blocks};
  }

  // The 16 transformed values (B^T d B) of the tile whose outputs start at (oh0, ow0) of image n,
  // channel block cb, at out[p * stride]: d the 4x4 input patch (zero outside the input),
  // B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
  __attribute__((target("avx2,fma"), always_inline)) inline void InputTile(const float* x,
                                                                           int64_t n, int64_t oh0,
                                                                           int64_t ow0, int64_t cb,
                                                                           float* out,
                                                                           int64_t stride) const {
    const int64_t h0 = oh0 - s_.pad_top, w0 = ow0 - s_.pad_left;
    const float* plane = x + (n * (s_.in_channels / kBlock) + cb) * s_.in_h * s_.in_w * kBlock;
    __m256 d[4][4];
    if (h0 >= 0 && h0 + 4 <= s_.in_h && w0 >= 0 && w0 + 4 <= s_.in_w) {
      const float* at = plane + (h0 * s_.in_w + w0) * kBlock;
#pragma GCC unroll 4
      for (int a = 0; a < 4; ++a) {
#pragma GCC unroll 4
        for (int b = 0; b < 4; ++b) d[a][b] = _mm256_loadu_ps(at + (a * s_.in_w + b) * kBlock);
      }
    } else {
#pragma GCC unroll 4
      for (int a = 0; a < 4; ++a) {
        const int64_t h = h0 + a;
#pragma GCC unroll 4
        for (int b = 0; b < 4; ++b) {
          const int64_t w = w0 + b;
          d[a][b] = h >= 0 && h < s_.in_h && w >= 0 && w < s_.in_w
                        ? _mm256_loadu_ps(plane + (h * s_.in_w + w) * kBlock)
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
  __attribute__((target("avx2,fma"), always_inline)) inline void OutputTile(const float* in,
                                                                            int64_t stride,
                                                                            int64_t n, int64_t oh0,
                                                                            int64_t ow0, int64_t ob,
                                                                            float* y) const {
    __m256 p[16];
#pragma GCC unroll 16
    for (int e = 0; e < 16; ++e) p[e] = _mm256_loadu_ps(in + e * stride);
    __m256 rows[2][4];
#pragma GCC unroll 4
    for (int b = 0; b < 4; ++b) {
      rows[0][b] = _mm256_add_ps(_mm256_add_ps(p[b], p[4 + b]), p[8 + b]);
      rows[1][b] = _mm256_sub_ps(_mm256_sub_ps(p[4 + b], p[8 + b]), p[12 + b]);
    }
    const __m256 bias = _mm256_loadu_ps(epilogue_.bias.data() + ob * kBlock);
    const __m256 low = _mm256_set1_ps(epilogue_.low), high = _mm256_set1_ps(epilogue_.high);
    float* plane = y + (n * (s_.out_channels / kBlock) + ob) * s_.out_h * s_.out_w * kBlock;
#pragma GCC unroll 2
    for (int a = 0; a < 2; ++a) {
      const int64_t oh = oh0 + a;
      if (oh >= s_.out_h) break;
      const __m256 out[2] = {_mm256_add_ps(_mm256_add_ps(rows[a][0], rows[a][1]), rows[a][2]),
                             _mm256_sub_ps(_mm256_sub_ps(rows[a][1], rows[a][2]), rows[a][3])};
#pragma GCC unroll 2
      for (int b = 0; b < 2; ++b) {
        const int64_t ow = ow0 + b;
        if (ow >= s_.out_w) break;
        float* at = plane + (oh * s_.out_w + ow) * kBlock;
        __m256 value = _mm256_add_ps(out[b], bias);
        if (epilogue_.sum_input >= 0) value = _mm256_add_ps(value, _mm256_loadu_ps(at));
        if (epilogue_.activation != Activation::kNone) {
          value = _mm256_min_ps(_mm256_max_ps(value, low), high);
        }
        _mm256_storeu_ps(at, value);
      }
    }
  }

  WinogradConvShape s_;
  Epilogue epilogue_;
  std::string implementation_;
  int64_t tiles_h_ = (s_.out_h + 1) / 2, tiles_w_ = (s_.out_w + 1) / 2;
  int64_t chunk_ = 0;  // tiles per pass through the matmul
  std::optional<Matmul> full_, tail_;
  std::optional<Tensor> fused_u_;  // set: the fused path
  int threads_ = 1;
  size_t v_offset_ = 0, m_offset_ = 0, per_thread_ = 0, total_ = 0;
};

// The matmul of `tiles` rows: [16, tiles, IC] x [16, IC, OC] -> [16, tiles, OC], its weights
// (the transformed filters, `u` in [16][IC][OC] order) in the layout it prefers.
absl::StatusOr<WinogradConvKernel::Matmul> MakeMatmul(const WinogradConvShape& s, int64_t tiles,
                                                      const Tensor& u, size_t* scratch) {
  WinogradConvKernel::Matmul mm;
  mm.src = memory::desc({kPoints, tiles, s.in_channels}, memory::data_type::f32,
                        memory::format_tag::abc);
  mm.dst = memory::desc({kPoints, tiles, s.out_channels}, memory::data_type::f32,
                        memory::format_tag::abc);
  const memory::desc weights_any({kPoints, s.in_channels, s.out_channels}, memory::data_type::f32,
                                 memory::format_tag::any);
  const dnnl::matmul::desc desc(mm.src, weights_any, mm.dst);
  const dnnl::matmul::primitive_desc pd(desc, DefaultAttr(), CpuEngine());
  mm.weights = pd.weights_desc();
  OCTET_ASSIGN_OR_RETURN(mm.packed_weights,
                         ReorderConstant(u, PlainDesc(u.shape(), DataType::kFloat32), mm.weights));
  mm.primitive = dnnl::matmul(pd);
  mm.implementation = pd.impl_info_str();
  *scratch = std::max(*scratch, pd.scratchpad_desc().get_size());
  return mm;
}

}  // namespace

bool WinogradConvApplies(const KernelBuildContext& context, const WinogradConvShape& shape) {
  const TensorDesc& x = context.input(0);
  const Tensor* w = context.constant(1);
  if (!CpuHasAvx2Fma() || w == nullptr || x.channel_block != kBlock || x.shape.size() != 4 ||
      w->rank() != 4 || w->dim(2) != 3 || w->dim(3) != 3 ||
      (context.has_input(2) && context.constant(2) == nullptr)) {
    return false;
  }
  if (shape.group != 1 || shape.stride_h != 1 || shape.stride_w != 1 || shape.dilation_h != 1 ||
      shape.dilation_w != 1) {
    return false;
  }
  if (context.activation.has_value() && context.activation->kind != FusedActivation::Kind::kRelu &&
      context.activation->kind != FusedActivation::Kind::kClip) {
    return false;
  }
  return shape.in_channels % kBlock == 0 && shape.out_channels % kBlock == 0 &&
         shape.in_channels >= kMinChannels && shape.out_channels >= kMinChannels &&
         shape.out_h >= 2 && shape.out_w >= 2;
}

absl::StatusOr<BuiltKernel> BuildWinogradConv(const KernelBuildContext& context,
                                              const WinogradConvShape& shape, int sum_input) {
  const Tensor& w = *context.constant(1);
  const int64_t ic = shape.in_channels, oc = shape.out_channels;
  // U[p][ic][oc] = (G g G^T)[p] of filter (oc, ic).
  OCTET_ASSIGN_OR_RETURN(Tensor u, Tensor::Create(DataType::kFloat32, {kPoints, ic, oc}));
  float* u_data = u.data<float>();
  for (int64_t o = 0; o < oc; ++o) {
    for (int64_t i = 0; i < ic; ++i) {
      float transformed[kPoints];
      TransformFilter(w.data<float>() + (o * ic + i) * 9, transformed);
      for (int64_t p = 0; p < kPoints; ++p) u_data[(p * ic + i) * oc + o] = transformed[p];
    }
  }
  Epilogue epilogue;
  epilogue.bias.assign(oc, 0.0f);
  if (context.has_input(2)) {
    std::copy_n(context.constant(2)->data<float>(), oc, epilogue.bias.begin());
  }
  epilogue.sum_input = sum_input;
  if (context.activation.has_value()) {
    if (context.activation->kind == FusedActivation::Kind::kRelu) {
      epilogue.activation = Activation::kRelu;
      epilogue.high = std::numeric_limits<float>::infinity();
    } else {
      epilogue.activation = Activation::kClip;
      epilogue.low = context.activation->alpha;
      epilogue.high = context.activation->beta;
    }
  }
  if (ic * oc <= kMaxFusedChannelProduct) {
    BuiltKernel built;
    built.kernel = std::make_unique<WinogradConvKernel>(shape, std::move(epilogue), std::move(u),
                                                        omp_get_max_threads(),
                                                        "winograd F(2x2,3x3):avx2 fused");
    built.outputs.push_back({DataType::kFloat32,
                             {shape.batch, oc, shape.out_h, shape.out_w},
                             static_cast<int>(kBlock)});
    built.notes = absl::StrCat(kFusedTiles, " tiles per block",
                               sum_input >= 0 ? ", residual Add fused (in place)" : "");
    return built;
  }
  // Tiles per pass: the transformed input and output of a pass within about 2 MiB (the caches
  // of a core), but at least as many as make them as large as the transformed weights, which
  // each pass reads whole (ic * oc / (ic + oc) tiles).
  const int64_t tiles = shape.batch * ((shape.out_h + 1) / 2) * ((shape.out_w + 1) / 2);
  const int64_t budget =
      (int64_t{2} << 20) / (kPoints * static_cast<int64_t>(sizeof(float)) * (ic + oc));
  const int64_t chunk =
      std::min(tiles, std::max<int64_t>({16, budget / 8 * 8, ic * oc / (ic + oc) / 8 * 8}));
  try {
    size_t scratch = 0;
    OCTET_ASSIGN_OR_RETURN(WinogradConvKernel::Matmul full, MakeMatmul(shape, chunk, u, &scratch));
    std::optional<WinogradConvKernel::Matmul> tail;
    if (tiles % chunk != 0) {
      OCTET_ASSIGN_OR_RETURN(tail, MakeMatmul(shape, tiles % chunk, u, &scratch));
    }
    const std::string implementation =
        absl::StrCat("winograd F(2x2,3x3):avx2 (matmul ", full.implementation, ")");
    BuiltKernel built;
    built.kernel =
        std::make_unique<WinogradConvKernel>(shape, std::move(epilogue), chunk, std::move(full),
                                             std::move(tail), scratch, implementation);
    built.outputs.push_back({DataType::kFloat32,
                             {shape.batch, oc, shape.out_h, shape.out_w},
                             static_cast<int>(kBlock)});
    built.notes = absl::StrCat(chunk, " tiles per pass",
                               sum_input >= 0 ? ", residual Add fused (in place)" : "");
    return built;
  } catch (const dnnl::error& e) {
    return ToStatus(e, context.node.Describe());
  }
}

}  // namespace octet::onednn
