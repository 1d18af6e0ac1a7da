#include "engine/runtime/cpu/int8_gemm.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/cpu/cpu_features.h"
#include "engine/runtime/cpu/int8_product_parts.h"

namespace octet::cpu {
namespace {

constexpr int64_t kRows = 4;  // rows of a register tile (with more, the loop runs slower)
using int8_product::kColumns;
// K pairs per pass over a chunk's tiles: a column block's weights for them (64 bytes a pair, 16
// KiB) stay in the core's L1 cache while every tile of the chunk reads them; the int32 sums of
// the tiles carry over between passes in a per-thread buffer.
constexpr int64_t kPairBlock = 256;

class Int8GemmKernel final : public Kernel {
 public:
  explicit Int8GemmKernel(Int8GemmSpec spec)
      : spec_(std::move(spec)),
        column_blocks_((spec_.n + kColumns - 1) / kColumns),
        requantizer_(spec_, column_blocks_ * kColumns),
        threads_(omp_get_max_threads()) {
    // K in segments of `segment` values that are contiguous in the rows A is read from: all of K
    // for a product; for a convolution, a kernel row's taps x channels (one run of the padded
    // channels-last source) or, dilated along x, one tap's channels. A segment takes a whole
    // number of pairs: an odd one ends with a pair whose second weight is 0 (its source value,
    // the next one in memory, is read and multiplied by 0).
    int64_t segment = spec_.k;
    if (spec_.convolution.has_value()) {
      const Int8GemmSpec::Convolution& c = *spec_.convolution;
      padded_h_ = std::max(c.in_h + c.pad_top,
                           (c.out_h - 1) * c.stride_h + (c.kernel_h - 1) * c.dilation_h + 1);
      padded_w_ = std::max(c.in_w + c.pad_left,
                           (c.out_w - 1) * c.stride_w + (c.kernel_w - 1) * c.dilation_w + 1);
      segment = c.dilation_w == 1 ? c.kernel_w * c.channels : c.channels;
      for (int64_t ky = 0; ky < c.kernel_h; ++ky) {
        for (int64_t kx = 0; kx < (c.dilation_w == 1 ? 1 : c.kernel_w); ++kx) {
          segment_offsets_.push_back((ky * c.dilation_h * padded_w_ + kx * c.dilation_w) *
                                     c.channels);
        }
      }
    } else {
      segment_offsets_.push_back(0);
    }
    segment_pairs_ = (segment + 1) / 2;
    pairs_ = static_cast<int64_t>(segment_offsets_.size()) * segment_pairs_;
    // W as int16 pairs: block b, pair p, column c of the block -> (W[2p][j], W[2p + 1][j]), K's
    // index i at position i % segment of segment i / segment.
    packed_.assign(column_blocks_ * pairs_ * kColumns * 2, 0);
    for (int64_t j = 0; j < spec_.n; ++j) {
      const int64_t block = j / kColumns, c = j % kColumns;
      for (int64_t i = 0; i < spec_.k; ++i) {
        const int64_t at = i / segment * segment_pairs_ * 2 + i % segment;
        packed_[((block * pairs_ + at / 2) * kColumns + c) * 2 + at % 2] =
            spec_.weights[i * spec_.n + j];
      }
    }
    // The source zero point's term per column, added to the int32 sums: sum (a - z) w is
    // sum a w - z (sum w).
    offsets_.assign(column_blocks_ * kColumns, 0);
    for (int64_t j = 0; j < spec_.n; ++j) {
      int64_t column_sum = 0;
      for (int64_t i = 0; i < spec_.k; ++i) column_sum += spec_.weights[i * spec_.n + j];
      // Wrapping like the sums: the true total fits int32 (|a - z| <= 255, |w| <= 128, k <= 2^16).
      offsets_[j] = static_cast<int32_t>(static_cast<uint32_t>(-spec_.a_zero * column_sum));
    }
    // Rows per chunk. A product's chunk is widened into a per-thread buffer that stays in the
    // core's L2 cache (about 96 KiB of rows). A convolution's rows are read from the widened
    // source, a chunk's receptive fields overlapping: about 96 KiB of the source's rows.
    const int64_t row_bytes = pairs_ * 2 * static_cast<int64_t>(sizeof(int16_t));
    if (spec_.convolution.has_value()) {
      const Int8GemmSpec::Convolution& c = *spec_.convolution;
      const int64_t pixel_bytes = c.channels * c.stride_w * c.kernel_h * sizeof(int16_t);
      chunk_rows_ = std::clamp<int64_t>((96 << 10) / pixel_bytes / kRows * kRows, kRows, 1024);
      const int64_t images = std::max<int64_t>(1, spec_.rows / (c.in_h * c.in_w));
      // 16 more values: a last odd segment's pair reads one value past the source.
      source_bytes_ =
          AlignScratchpad((images * padded_h_ * padded_w_ * c.channels + 16) * sizeof(int16_t));
    } else {
      chunk_rows_ = std::clamp<int64_t>((96 << 10) / row_bytes / kRows * kRows, kRows, 256);
      // 16 more values: the same past the chunk's last row.
      chunk_bytes_ = AlignScratchpad(chunk_rows_ * spec_.k * sizeof(int16_t) + 32);
    }
    pointer_bytes_ = AlignScratchpad(chunk_rows_ * sizeof(const int16_t*));
    partial_bytes_ =
        pairs_ > kPairBlock ? AlignScratchpad(chunk_rows_ * kColumns * sizeof(int32_t)) : 0;
    source_channels_ = spec_.convolution.has_value() ? spec_.convolution->channels : spec_.k;
    transposed_bytes_ = spec_.pixels > 1 && !spec_.convolution.has_value()
                            ? AlignScratchpad(spec_.rows * source_channels_)
                            : 0;
  }

  size_t scratchpad_bytes() const override {
    return transposed_bytes_ + source_bytes_ + ThreadBytes() * threads_;
  }
  std::string implementation() const override {
    return spec_.convolution.has_value() ? "octet:int8 conv avx2 (vpmaddwd)"
                                         : "octet:int8 gemm avx2 (vpmaddwd)";
  }

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    const Tensor& a = *inputs[0];
    Tensor& y = *outputs[0];
    // Source rows (pixels of source_channels_) and product rows (output pixels for a convolution).
    const int64_t source_rows = a.element_count() / source_channels_;
    if ((spec_.pixels > 1 || spec_.convolution.has_value()) && source_rows > spec_.rows) {
      return absl::InternalError("the source outgrew the kernel's scratchpad");
    }
    int64_t m = source_rows, images = 0;
    if (spec_.convolution.has_value()) {
      const Int8GemmSpec::Convolution& c = *spec_.convolution;
      images = source_rows / (c.in_h * c.in_w);
      m = images * c.out_h * c.out_w;
    }
    const int threads = std::min(threads_, omp_get_max_threads());
    // Chunks small enough that every thread has two items or more, where the rows allow, and
    // of near-equal size.
    const int64_t chunk_rows = int8_product::BalancedBlock(
        m, chunk_rows_, kRows, (2 * threads + column_blocks_ - 1) / column_blocks_, column_blocks_,
        threads);
    const int64_t chunks = (m + chunk_rows - 1) / chunk_rows;
    const int64_t items = chunks * column_blocks_;
    char* scratch = static_cast<char*>(context.scratchpad);
    const auto* rows = static_cast<const uint8_t*>(a.raw_data());
    if (transposed_bytes_ > 0) {
      int8_product::TransposeToChannelsLast(rows, source_rows / spec_.pixels, source_channels_,
                                            spec_.pixels, reinterpret_cast<uint8_t*>(scratch),
                                            threads);
      rows = reinterpret_cast<const uint8_t*>(scratch);
      scratch += transposed_bytes_;
    }
    auto* source = reinterpret_cast<int16_t*>(scratch);
    scratch += source_bytes_;
#pragma omp parallel num_threads(threads)
    {
      const int64_t count = omp_get_num_threads(), thread = omp_get_thread_num();
      if (spec_.convolution.has_value()) {
        // The padded source, widened once: every row of every image (implicit barrier after).
#pragma omp for
        for (int64_t line = 0; line < images * padded_h_; ++line) {
          WidenSourceLine(rows, line, source);
        }
#pragma omp single
        std::fill_n(source + images * padded_h_ * padded_w_ * source_channels_, 16, int16_t{0});
      }
      const int64_t begin = items * thread / count, end = items * (thread + 1) / count;
      if (begin < end) {
        char* own = scratch + ThreadBytes() * thread;
        Range(rows, source, m, chunk_rows, y.raw_data(), begin, end,
              reinterpret_cast<const int16_t**>(own),
              reinterpret_cast<int32_t*>(own + pointer_bytes_),
              reinterpret_cast<int16_t*>(own + pointer_bytes_ + partial_bytes_));
      }
    }
    return absl::OkStatus();
  }

 private:
  size_t ThreadBytes() const { return pointer_bytes_ + partial_bytes_ + chunk_bytes_; }

  // Line `line` (image x padded_h_ + row) of the padded, widened, channels-last source: the
  // source's pixels widened to int16, the padding value around them.
  __attribute__((target("avx2,fma"))) void WidenSourceLine(const uint8_t* in, int64_t line,
                                                           int16_t* source) const {
    const Int8GemmSpec::Convolution& c = *spec_.convolution;
    const int64_t image = line / padded_h_, iy = line % padded_h_ - c.pad_top;
    const int64_t channels = c.channels, width = padded_w_ * channels;
    int16_t* out = source + line * width;
    const int16_t pad =
        spec_.a_type == DataType::kInt8 ? int16_t{static_cast<int8_t>(c.pad)} : int16_t{c.pad};
    if (iy < 0 || iy >= c.in_h) {
      std::fill_n(out, width, pad);
      return;
    }
    const int64_t left = c.pad_left * channels, inside = c.in_w * channels;
    std::fill_n(out, left, pad);
    if (spec_.pixels > 1) {
      // Channels-first: channel ch's row iy is in_w bytes.
      const bool is_signed = spec_.a_type == DataType::kInt8;
      for (int64_t ch = 0; ch < channels; ++ch) {
        const uint8_t* from = in + ((image * channels + ch) * c.in_h + iy) * c.in_w;
        int16_t* to = out + left + ch;
        for (int64_t x = 0; x < c.in_w; ++x) {
          to[x * channels] = is_signed ? int16_t{static_cast<int8_t>(from[x])} : int16_t{from[x]};
        }
      }
    } else {
      Widen(in + (image * c.in_h + iy) * inside, inside, out + left);
    }
    std::fill(out + left + inside, out + width, pad);
  }

  // The K pairs [begin, end) of one pass over a chunk's tiles.
  struct Pass {
    int64_t begin, end;
  };

  // Items [begin, end) (chunk major): a chunk's rows located once (a product's widened into
  // `wide` first), then each of its column blocks over all of the chunk's row tiles, kPairBlock
  // pairs of K at a time, so that the block's packed weights are read from memory once per chunk
  // and from L1 by every tile after the first; `partial` holds the tiles' sums between passes.
  __attribute__((target("avx2,fma"))) void Range(const uint8_t* a, const int16_t* source, int64_t m,
                                                 int64_t chunk_rows, void* y, int64_t begin,
                                                 int64_t end, const int16_t** row_starts,
                                                 int32_t* partial, int16_t* wide) const {
    int64_t located = -1;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t chunk = item / column_blocks_, column_block = item % column_blocks_;
      const int64_t chunk_first = chunk * chunk_rows;
      const int64_t chunk_end = std::min(m, chunk_first + chunk_rows);
      if (chunk != located) {
        if (spec_.convolution.has_value()) {
          // Row (image, oy, ox) starts at its receptive field's top left corner.
          const Int8GemmSpec::Convolution& c = *spec_.convolution;
          const int64_t pixels = c.out_h * c.out_w;
          int64_t image = chunk_first / pixels, oy = chunk_first % pixels / c.out_w,
                  ox = chunk_first % c.out_w;
          for (int64_t r = chunk_first; r < chunk_end; ++r) {
            row_starts[r - chunk_first] =
                source +
                ((image * padded_h_ + oy * c.stride_h) * padded_w_ + ox * c.stride_w) * c.channels;
            if (++ox == c.out_w) {
              ox = 0;
              if (++oy == c.out_h) {
                oy = 0;
                ++image;
              }
            }
          }
        } else {
          // The chunk's rows are one run of the source.
          const int64_t count = (chunk_end - chunk_first) * spec_.k;
          Widen(a + chunk_first * spec_.k, count, wide);
          std::fill_n(wide + count, 16, int16_t{0});
          for (int64_t r = chunk_first; r < chunk_end; ++r) {
            row_starts[r - chunk_first] = wide + (r - chunk_first) * spec_.k;
          }
        }
        located = chunk;
      }
      for (int64_t p0 = 0; p0 < pairs_; p0 += kPairBlock) {
        const Pass pass{p0, std::min(pairs_, p0 + kPairBlock)};
        for (int64_t first = chunk_first; first < chunk_end; first += kRows) {
          const int16_t* const* tile = row_starts + (first - chunk_first);
          int32_t* sums = partial + (first - chunk_first) * kColumns;
          static_assert(kRows == 4, "a case per tile height");
          switch (std::min(kRows, chunk_end - first)) {
            case 4:
              Tile<4>(tile, first, column_block, pass, sums, y);
              break;
            case 3:
              Tile<3>(tile, first, column_block, pass, sums, y);
              break;
            case 2:
              Tile<2>(tile, first, column_block, pass, sums, y);
              break;
            default:
              Tile<1>(tile, first, column_block, pass, sums, y);
          }
        }
      }
    }
  }

  // `count` bytes from `from` to int16 (zero- or sign-extended), 16 at a time.
  __attribute__((target("avx2,fma"))) void Widen(const uint8_t* from, int64_t count,
                                                 int16_t* out) const {
    const bool is_signed = spec_.a_type == DataType::kInt8;
    int64_t i = 0;
    for (; i + 16 <= count; i += 16) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + i));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                          is_signed ? _mm256_cvtepi8_epi16(bytes) : _mm256_cvtepu8_epi16(bytes));
    }
    for (; i < count; ++i) {
      out[i] = is_signed ? int16_t{static_cast<int8_t>(from[i])} : int16_t{from[i]};
    }
  }

  // Rows [first, first + R) x the 16 columns of `column_block`, the pass's pairs of K: the int32
  // sums in registers, starting from `sums` after the first pass; then back into `sums` before the
  // last, or requantized into y after it.
  template <int R>
  __attribute__((target("avx2,fma"))) void Tile(const int16_t* const* row_starts, int64_t first,
                                                int64_t column_block, Pass pass, int32_t* sums,
                                                void* y) const {
    // The accumulators: an array whose every index is a constant once the loops are unrolled, so
    // that they live in registers.
    __m256i acc[R][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      if (pass.begin > 0) {
        acc[r][0] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + r * kColumns));
        acc[r][1] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + r * kColumns + 8));
      } else {
        acc[r][0] = acc[r][1] = _mm256_setzero_si256();
      }
    }
    // The pass's pairs, segment by segment.
    for (int64_t segment = pass.begin == 0 ? 0 : pass.begin / segment_pairs_;
         segment * segment_pairs_ < pass.end; ++segment) {
      const int64_t segment_first = segment * segment_pairs_;
      const int64_t q_begin = std::max(pass.begin, segment_first) - segment_first;
      const int64_t q_end = std::min(pass.end, segment_first + segment_pairs_) - segment_first;
      const int16_t* b = packed_.data() + (column_block * pairs_ + segment_first) * kColumns * 2;
      const int16_t* a[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) a[r] = row_starts[r] + segment_offsets_[segment];
      int8_product::AccumulatePairs<R>(a, b, q_begin, q_end, acc);
    }
    if (pass.end < pairs_) {
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + r * kColumns), acc[r][0]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + r * kColumns + 8), acc[r][1]);
      }
      return;
    }
    const int64_t j0 = column_block * kColumns;
    const int64_t n = spec_.n;
    if (spec_.a_zero != 0) {
      const __m256i offset[2] = {
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offsets_.data() + j0)),
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offsets_.data() + j0 + 8))};
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        acc[r][0] = _mm256_add_epi32(acc[r][0], offset[0]);
        acc[r][1] = _mm256_add_epi32(acc[r][1], offset[1]);
      }
    }
    const int8_product::Requantizer::Block block = requantizer_.Load(j0);
    int64_t at[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) at[r] = (first + r) * n + j0;
    requantizer_.Store<R>(block, acc, at, y);
  }

  Int8GemmSpec spec_;
  int64_t column_blocks_;
  int8_product::Requantizer requantizer_;
  // K's segments (see the constructor): pairs each, and where each starts relative to a row's
  // start; all segments' pairs.
  int64_t segment_pairs_ = 0, pairs_ = 0;
  std::vector<int64_t> segment_offsets_;
  // A convolution's padded source, in pixels.
  int64_t padded_h_ = 0, padded_w_ = 0;
  int threads_;
  std::vector<int16_t> packed_;
  std::vector<int32_t> offsets_;
  int64_t source_channels_ = 0;
  int64_t chunk_rows_ = kRows;
  size_t chunk_bytes_ = 0, partial_bytes_ = 0, pointer_bytes_ = 0, transposed_bytes_ = 0,
         source_bytes_ = 0;
};

}  // namespace

bool Int8GemmAvailable() { return Cpu().avx2 && !Cpu().vnni; }

absl::Status CheckInt8GemmSpec(const Int8GemmSpec& spec) {
  const bool types = (spec.a_type == DataType::kUint8 || spec.a_type == DataType::kInt8) &&
                     (spec.y_type == DataType::kUint8 || spec.y_type == DataType::kInt8 ||
                      spec.y_type == DataType::kFloat32);
  if (!types || spec.k < 1 || spec.n < 1 ||
      static_cast<int64_t>(spec.weights.size()) != spec.k * spec.n ||
      static_cast<int64_t>(spec.scales.size()) != spec.n ||
      static_cast<int64_t>(spec.addend.size()) != spec.n || spec.k > kInt8GemmMaxK ||
      (spec.pixels > 1 && (spec.rows < 1 || spec.rows % spec.pixels != 0))) {
    return absl::InvalidArgumentError(absl::StrCat("inconsistent int8 matrix product: K ", spec.k,
                                                   ", N ", spec.n, ", ", spec.weights.size(),
                                                   " weights"));
  }
  if (spec.residual.has_value() && spec.y_type == DataType::kFloat32) {
    return absl::InvalidArgumentError("a fused residual needs a u8 or s8 destination");
  }
  const bool zero_in_range = spec.a_type == DataType::kUint8
                                 ? spec.a_zero >= 0 && spec.a_zero <= 255
                                 : spec.a_zero >= -128 && spec.a_zero <= 127;
  if (!zero_in_range) {
    return absl::InvalidArgumentError(absl::StrCat("source zero point ", spec.a_zero, " outside ",
                                                   DataTypeName(spec.a_type), "'s range"));
  }
  if (spec.convolution.has_value()) {
    const Int8GemmSpec::Convolution& c = *spec.convolution;
    const bool positive = c.in_h > 0 && c.in_w > 0 && c.channels > 0 && c.out_h > 0 &&
                          c.out_w > 0 && c.kernel_h > 0 && c.kernel_w > 0 && c.stride_h > 0 &&
                          c.stride_w > 0 && c.dilation_h > 0 && c.dilation_w > 0 &&
                          c.pad_top >= 0 && c.pad_left >= 0;
    if (!positive || c.kernel_h * c.kernel_w * c.channels != spec.k ||
        (spec.pixels > 1 && spec.pixels != c.in_h * c.in_w) || spec.rows < c.in_h * c.in_w ||
        spec.rows % (c.in_h * c.in_w) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("inconsistent int8 convolution as a product: K ", spec.k, " for a ",
                       c.kernel_h, "x", c.kernel_w, " kernel over ", c.channels, " channels of ",
                       c.in_h, "x", c.in_w, ", ", spec.rows, " source pixels"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Kernel>> MakeInt8GemmKernel(Int8GemmSpec spec) {
  if (!Int8GemmAvailable()) {
    return absl::FailedPreconditionError(
        "Octet's int8 matrix product runs on CPUs with AVX2 and without VNNI");
  }
  OCTET_RETURN_IF_ERROR(CheckInt8GemmSpec(spec));
  return std::make_unique<Int8GemmKernel>(std::move(spec));
}

}  // namespace octet::cpu
