#include "engine/runtime/cpu/int8_winograd.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/cpu/int8_product_parts.h"

namespace octet::cpu {
namespace {

using int8_product::kColumns;
constexpr int kRows = 4;  // tiles per register tile

// 16 int16 lanes (GCC's vector extension: + and - lane by lane, as the scalar code reads).
typedef int16_t Int16x16 __attribute__((vector_size(32)));

// V = B^T d B for B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], element (i, j) at v[4i + j]; T is
// int32_t or Int16x16 (|d| <= 255 keeps every step within int16).
template <typename T>
__attribute__((target("avx2,fma"), always_inline)) inline void TransformTile(const T (&d)[4][4],
                                                                             T (&v)[16]) {
  T t[4][4];
  for (int j = 0; j < 4; ++j) {
    t[0][j] = d[0][j] - d[2][j];
    t[1][j] = d[1][j] + d[2][j];
    t[2][j] = d[2][j] - d[1][j];
    t[3][j] = d[1][j] - d[3][j];
  }
  for (int i = 0; i < 4; ++i) {
    v[4 * i + 0] = t[i][0] - t[i][2];
    v[4 * i + 1] = t[i][1] + t[i][2];
    v[4 * i + 2] = t[i][2] - t[i][1];
    v[4 * i + 3] = t[i][1] - t[i][3];
  }
}

class Int8WinogradKernel final : public Kernel {
 public:
  explicit Int8WinogradKernel(Int8GemmSpec spec)
      : spec_(std::move(spec)),
        c_(*spec_.convolution),
        channel_pairs_((c_.channels + 1) / 2),
        column_blocks_((spec_.n + kColumns - 1) / kColumns),
        tiles_h_((c_.out_h + 1) / 2),
        tiles_w_((c_.out_w + 1) / 2),
        threads_(omp_get_max_threads()),
        requantizer_(spec_, column_blocks_ * kColumns) {
    // U = G' g G'^T per output and input channel, G' = [2 0 0; 1 1 1; 1 -1 1; 0 0 2], packed per
    // element e as int16 pairs of channels: [16][column block][channel pairs][16][2].
    packed_.assign(16 * column_blocks_ * channel_pairs_ * kColumns * 2, 0);
    const int64_t channels = c_.channels, n = spec_.n;
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t ch = 0; ch < channels; ++ch) {
        int32_t g[3][3], h[4][3];
        for (int ky = 0; ky < 3; ++ky) {
          for (int kx = 0; kx < 3; ++kx)
            g[ky][kx] = spec_.weights[((ky * 3 + kx) * channels + ch) * n + j];
        }
        for (int kx = 0; kx < 3; ++kx) {
          h[0][kx] = 2 * g[0][kx];
          h[1][kx] = g[0][kx] + g[1][kx] + g[2][kx];
          h[2][kx] = g[0][kx] - g[1][kx] + g[2][kx];
          h[3][kx] = 2 * g[2][kx];
        }
        for (int i = 0; i < 4; ++i) {
          const int32_t u[4] = {2 * h[i][0], h[i][0] + h[i][1] + h[i][2],
                                h[i][0] - h[i][1] + h[i][2], 2 * h[i][2]};
          for (int jj = 0; jj < 4; ++jj) {
            const int64_t e = 4 * i + jj;
            packed_[(((e * column_blocks_ + j / kColumns) * channel_pairs_ + ch / 2) * kColumns +
                     j % kColumns) *
                        2 +
                    ch % 2] = static_cast<int16_t>(u[jj]);
          }
        }
      }
    }
    // Tiles per block: the block's 16 transformed matrices (tiles x channels, int16) stay in L2.
    tile_block_ =
        std::clamp<int64_t>((192 << 10) / (16 * channel_pairs_ * 4) / kRows * kRows, kRows, 64);
    transformed_bytes_ = AlignScratchpad(16 * tile_block_ * channel_pairs_ * 2 * sizeof(int16_t));
    sums_bytes_ = AlignScratchpad(16 * tile_block_ * kColumns * sizeof(int32_t));
    // A plain source is read through a channels-last copy.
    transposed_bytes_ = spec_.pixels > 1 ? AlignScratchpad(spec_.rows * c_.channels) : 0;
    const int16_t pad =
        spec_.a_type == DataType::kInt8 ? int16_t{static_cast<int8_t>(c_.pad)} : int16_t{c_.pad};
    pad_ = static_cast<int16_t>(pad - spec_.a_zero);
  }

  size_t scratchpad_bytes() const override {
    return transposed_bytes_ + (transformed_bytes_ + sums_bytes_) * threads_;
  }
  std::string implementation() const override {
    return "octet:int8 winograd F(2x2,3x3) avx2 (vpmaddwd)";
  }

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    const Tensor& x = *inputs[0];
    Tensor& y = *outputs[0];
    const int64_t images = x.element_count() / (c_.in_h * c_.in_w * c_.channels);
    if (images * c_.in_h * c_.in_w > spec_.rows) {
      return absl::InternalError("the source outgrew the kernel's scratchpad");
    }
    const int64_t tiles = images * tiles_h_ * tiles_w_;
    if (tiles == 0) return absl::OkStatus();
    const int threads = std::min(threads_, omp_get_max_threads());
    // Tile blocks of near-equal size, as many as a multiple of the threads; when all the tiles fit
    // one block (small images, batch 1), the column blocks split among the threads instead, each
    // transforming the tiles (the weights are read once).
    const int64_t tile_block = tiles <= tile_block_ ? tiles
                                                    : int8_product::BalancedBlock(
                                                          tiles, tile_block_, kRows, 1, 1, threads);
    const int64_t tile_blocks = (tiles + tile_block - 1) / tile_block;
    const int64_t groups =
        std::clamp<int64_t>((2 * threads + tile_blocks - 1) / tile_blocks, 1, column_blocks_);
    const int64_t items = tile_blocks * groups;
    char* scratch = static_cast<char*>(context.scratchpad);
    const auto* source = static_cast<const uint8_t*>(x.raw_data());
    if (transposed_bytes_ > 0) {
      int8_product::TransposeToChannelsLast(source, images, c_.channels, c_.in_h * c_.in_w,
                                            reinterpret_cast<uint8_t*>(scratch), threads);
      source = reinterpret_cast<const uint8_t*>(scratch);
      scratch += transposed_bytes_;
    }
#pragma omp parallel num_threads(threads)
    {
      const int64_t count = omp_get_num_threads(), thread = omp_get_thread_num();
      const int64_t begin = items * thread / count, end = items * (thread + 1) / count;
      char* own = scratch + (transformed_bytes_ + sums_bytes_) * thread;
      auto* transformed = reinterpret_cast<int16_t*>(own);
      auto* sums = reinterpret_cast<int32_t*>(own + transformed_bytes_);
      int64_t done = -1;
      for (int64_t item = begin; item < end; ++item) {
        const int64_t block = item / groups, group = item % groups;
        const int64_t first = block * tile_block;
        const int64_t count_tiles = std::min(tile_block, tiles - first);
        if (block != done) {
          for (int64_t t = 0; t < count_tiles; ++t) Transform(source, first + t, t, transformed);
          done = block;
        }
        const int64_t columns_begin = column_blocks_ * group / groups;
        const int64_t columns_end = column_blocks_ * (group + 1) / groups;
        for (int64_t column_block = columns_begin; column_block < columns_end; ++column_block) {
          Multiply(transformed, count_tiles, column_block, sums);
          for (int64_t t = 0; t < count_tiles; ++t) {
            Output(sums, first + t, t, column_block, y.raw_data());
          }
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  // Tile `tile` (image, ty, tx) of the source, transformed into slot `slot` of the block: element
  // e's channels at transformed[(slot * 16 + e) * 2 * channel_pairs_ ...] (a tile's 16 elements
  // together: strides of a whole block between them would map every element's store to the same
  // cache set).
  __attribute__((target("avx2,fma"))) void Transform(const uint8_t* source, int64_t tile,
                                                     int64_t slot, int16_t* transformed) const {
    const int64_t per_image = tiles_h_ * tiles_w_;
    const int64_t image = tile / per_image, ty = tile % per_image / tiles_w_, tx = tile % tiles_w_;
    const int64_t y0 = 2 * ty - c_.pad_top, x0 = 2 * tx - c_.pad_left;
    const int64_t channels = c_.channels, stride = 2 * channel_pairs_;
    const uint8_t* pixels[4][4];  // nullptr outside the source
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 4; ++j) {
        const int64_t iy = y0 + i, ix = x0 + j;
        pixels[i][j] = iy >= 0 && iy < c_.in_h && ix >= 0 && ix < c_.in_w
                           ? source + ((image * c_.in_h + iy) * c_.in_w + ix) * channels
                           : nullptr;
      }
    }
    int16_t* out = transformed + slot * 16 * stride;
    const int64_t element_stride = stride;
    const bool is_signed = spec_.a_type == DataType::kInt8;
    const __m256i zero_point = _mm256_set1_epi16(static_cast<int16_t>(spec_.a_zero));
    const __m256i pad = _mm256_set1_epi16(pad_);
    int64_t ch = 0;
    for (; ch + 16 <= channels; ch += 16) {
      Int16x16 d[4][4], v[16];
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
          __m256i value = pad;
          if (pixels[i][j] != nullptr) {
            const __m128i bytes =
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(pixels[i][j] + ch));
            value = _mm256_sub_epi16(
                is_signed ? _mm256_cvtepi8_epi16(bytes) : _mm256_cvtepu8_epi16(bytes), zero_point);
          }
          d[i][j] = (Int16x16)value;
        }
      }
      TransformTile(d, v);
      for (int e = 0; e < 16; ++e) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + e * element_stride + ch),
                            (__m256i)v[e]);
      }
    }
    for (; ch < stride; ++ch) {  // the last channels, and the pair's 0 after an odd count
      int32_t d[4][4], v[16];
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
          if (ch >= channels) {
            d[i][j] = 0;
          } else if (pixels[i][j] == nullptr) {
            d[i][j] = pad_;
          } else {
            const uint8_t byte = pixels[i][j][ch];
            d[i][j] =
                (is_signed ? int32_t{static_cast<int8_t>(byte)} : int32_t{byte}) - spec_.a_zero;
          }
        }
      }
      TransformTile(d, v);
      for (int e = 0; e < 16; ++e) out[e * element_stride + ch] = static_cast<int16_t>(v[e]);
    }
  }

  // The 16 products (the block's tiles x channels) x (channels x the column block's 16 output
  // channels) into sums[(slot * 16 + e) * 16 ...], int32.
  __attribute__((target("avx2,fma"))) void Multiply(const int16_t* transformed, int64_t count,
                                                    int64_t column_block, int32_t* sums) const {
    const int64_t stride = 2 * channel_pairs_;
    for (int e = 0; e < 16; ++e) {
      const int16_t* b =
          packed_.data() + (e * column_blocks_ + column_block) * channel_pairs_ * kColumns * 2;
      const int16_t* rows = transformed + e * stride;
      int32_t* out = sums + e * kColumns;
      int64_t t = 0;
      for (; t + kRows <= count; t += kRows) Tile<kRows>(rows, t, 16 * stride, b, out);
      switch (count - t) {
        case 3:
          Tile<3>(rows, t, 16 * stride, b, out);
          break;
        case 2:
          Tile<2>(rows, t, 16 * stride, b, out);
          break;
        case 1:
          Tile<1>(rows, t, 16 * stride, b, out);
          break;
        default:
          break;
      }
    }
  }

  template <int R>
  __attribute__((target("avx2,fma"))) void Tile(const int16_t* rows, int64_t t, int64_t stride,
                                                const int16_t* b, int32_t* out) const {
    __m256i acc[R][2];
    const int16_t* a[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      acc[r][0] = acc[r][1] = _mm256_setzero_si256();
      a[r] = rows + (t + r) * stride;
    }
    int8_product::AccumulatePairs<R>(a, b, 0, channel_pairs_, acc);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + (t + r) * 16 * kColumns), acc[r][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + (t + r) * 16 * kColumns + 8), acc[r][1]);
    }
  }

  // Tile `tile`'s 2x2 outputs of the column block: A^T M A (A^T = [1 1 1 0; 0 1 -1 -1]) in
  // wrapping int32, divided by 4, requantized.
  __attribute__((target("avx2,fma"))) void Output(const int32_t* sums, int64_t tile, int64_t slot,
                                                  int64_t column_block, void* y) const {
    const int64_t per_image = tiles_h_ * tiles_w_;
    const int64_t image = tile / per_image, ty = tile % per_image / tiles_w_, tx = tile % tiles_w_;
    const int64_t j0 = column_block * kColumns;
    __m256i out[2][2][2];  // [dy][dx][half]
    for (int h = 0; h < 2; ++h) {
      __m256i m[16];
      for (int e = 0; e < 16; ++e) {
        m[e] = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(sums + (slot * 16 + e) * kColumns + 8 * h));
      }
      __m256i a[4], b[4];
      for (int j = 0; j < 4; ++j) {
        a[j] = _mm256_add_epi32(_mm256_add_epi32(m[j], m[4 + j]), m[8 + j]);
        b[j] = _mm256_sub_epi32(_mm256_sub_epi32(m[4 + j], m[8 + j]), m[12 + j]);
      }
      const __m256i* rows[2] = {a, b};
      for (int dy = 0; dy < 2; ++dy) {
        const __m256i* r = rows[dy];
        out[dy][0][h] = _mm256_srai_epi32(_mm256_add_epi32(_mm256_add_epi32(r[0], r[1]), r[2]), 2);
        out[dy][1][h] = _mm256_srai_epi32(_mm256_sub_epi32(_mm256_sub_epi32(r[1], r[2]), r[3]), 2);
      }
    }
    // The tile's outputs inside the result (4, or 2 or 1 at its bottom and right edges).
    __m256i acc[4][2];
    int64_t at[4];
    int count = 0;
    for (int dy = 0; dy < 2; ++dy) {
      const int64_t oy = 2 * ty + dy;
      for (int dx = 0; dx < 2 && oy < c_.out_h; ++dx) {
        const int64_t ox = 2 * tx + dx;
        if (ox >= c_.out_w) continue;
        acc[count][0] = out[dy][dx][0];
        acc[count][1] = out[dy][dx][1];
        at[count++] = ((image * c_.out_h + oy) * c_.out_w + ox) * spec_.n + j0;
      }
    }
    const int8_product::Requantizer::Block block = requantizer_.Load(j0);
    if (count == 4) {
      requantizer_.Store<4>(block, acc, at, y);
      return;
    }
    for (int i = 0; i < count; ++i) {
      __m256i one[1][2] = {{acc[i][0], acc[i][1]}};
      const int64_t one_at[1] = {at[i]};
      requantizer_.Store<1>(block, one, one_at, y);
    }
  }

  Int8GemmSpec spec_;
  Int8GemmSpec::Convolution c_;
  int64_t channel_pairs_, column_blocks_, tiles_h_, tiles_w_;
  int threads_;
  int8_product::Requantizer requantizer_;
  std::vector<int16_t> packed_;
  int64_t tile_block_ = kRows;
  size_t transformed_bytes_ = 0, sums_bytes_ = 0, transposed_bytes_ = 0;
  int16_t pad_ = 0;
};

}  // namespace

absl::Status Int8WinogradApplies(const Int8GemmSpec& spec) {
  if (!Int8GemmAvailable()) {
    return absl::FailedPreconditionError(
        "Octet's int8 Winograd convolution runs on CPUs with AVX2 and without VNNI");
  }
  if (!spec.convolution.has_value()) {
    return absl::FailedPreconditionError("computes convolutions only");
  }
  const Int8GemmSpec::Convolution& c = *spec.convolution;
  if (c.kernel_h != 3 || c.kernel_w != 3 || c.stride_h != 1 || c.stride_w != 1 ||
      c.dilation_h != 1 || c.dilation_w != 1) {
    return absl::FailedPreconditionError("computes 3x3 convolutions of stride 1, undilated");
  }
  if (c.channels > kInt8WinogradMaxChannels) {
    return absl::FailedPreconditionError(absl::StrCat("sums at most ", kInt8WinogradMaxChannels,
                                                      " channels exactly, not ", c.channels));
  }
  return absl::OkStatus();
}

bool Int8WinogradFaster(const Int8GemmSpec& spec) {
  return spec.convolution.has_value() && spec.convolution->channels >= 32 && spec.n >= 32;
}

absl::StatusOr<std::unique_ptr<Kernel>> MakeInt8WinogradKernel(Int8GemmSpec spec) {
  OCTET_RETURN_IF_ERROR(Int8WinogradApplies(spec));
  OCTET_RETURN_IF_ERROR(CheckInt8GemmSpec(spec));
  return std::make_unique<Int8WinogradKernel>(std::move(spec));
}

}  // namespace octet::cpu
