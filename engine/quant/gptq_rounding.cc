#include "engine/quant/gptq_rounding.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/cpu/cpu_features.h"
#include "engine/runtime/linear_algebra.h"
#include "engine/tensor/affine_quantization.h"

namespace octet {
namespace {

// LAPACK (OpenBLAS's, multithreaded with OpenMP), column-major: a row-major matrix is its
// transpose there, so a row-major lower triangle is LAPACK's upper one.
extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t uplo_len);
void dtrtri_(const char* uplo, const char* diag, const int* n, double* a, const int* lda, int* info,
             size_t uplo_len, size_t diag_len);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const double* alpha, const double* a, const int* lda, const double* b, const int* ldb,
            const double* beta, double* c, const int* ldc, size_t transa_len, size_t transb_len);
char* openblas_get_corename();
}

// Coordinates per lazy batch of GPTQ's rounding (the paper's 128).
constexpr int64_t kLazyBlock = 128;

// Lower Cholesky factor of the symmetric positive definite `a` (n x n, row-major), in place
// (the upper triangle is zeroed): LAPACK's blocked dpotrf on the upper triangle of the same
// memory read column-major. False when `a` is not positive definite.
bool CholeskyInPlace(std::vector<double>& a, int64_t n) {
  const int size = static_cast<int>(n);
  int info = 0;
  dpotrf_("U", &size, a.data(), &size, &info, 1);
  if (info != 0) return false;
  double* m = a.data();
  for (int64_t i = 0; i < n; ++i) std::fill(m + i * n + i + 1, m + (i + 1) * n, 0.0);
  return true;
}

// The inverse of the lower-triangular `lower` (n x n, row-major, non-zero diagonal, zero above
// it), lower triangular: LAPACK's dtrtri on the column-major upper triangle.
std::vector<double> InverseLower(const std::vector<double>& lower, int64_t n) {
  std::vector<double> inverse = lower;
  const int size = static_cast<int>(n);
  int info = 0;
  dtrtri_("U", "N", &size, inverse.data(), &size, &info, 1, 1);
  return inverse;
}

// The upper Cholesky factor U of H^-1 (H^-1 = U^T U), without forming H^-1: with J the reversal
// permutation and J H J = M M^T (M lower), H = R R^T for the upper R = J M J, so H^-1 = R^-T R^-1
// and U = R^-1 = J M^-1 J. One Cholesky factorisation and one triangular inverse. `h` is
// overwritten. False when H is not positive definite.
bool InverseUpperFactor(std::vector<double>& h, int64_t n, std::vector<double>* upper) {
  std::vector<double> reversed(n * n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) reversed[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
  }
  if (!CholeskyInPlace(reversed, n)) return false;
  const std::vector<double> inverse = InverseLower(reversed, n);
  upper->assign(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i; j < n; ++j) (*upper)[i * n + j] = inverse[(n - 1 - i) * n + (n - 1 - j)];
  }
  return true;
}

// Output positions [0, total) to sample: all of them, or `count` distinct ones drawn from `seed`
// (a partial Fisher-Yates shuffle on the generator's raw output, the same on every platform),
// in increasing order.
std::vector<int64_t> ChoosePositions(int64_t total, int64_t count, uint64_t seed) {
  std::vector<int64_t> positions(total);
  std::iota(positions.begin(), positions.end(), 0);
  if (count >= total) return positions;
  std::mt19937_64 generator(seed);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t j = i + static_cast<int64_t>(generator() % static_cast<uint64_t>(total - i));
    std::swap(positions[i], positions[j]);
  }
  positions.resize(count);
  std::sort(positions.begin(), positions.end());
  return positions;
}

// Padding of one spatial dim for ONNX's auto_pad (SAME_UPPER puts the odd cell at the end).
void AutoPad(const std::string& mode, int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
             int64_t* begin, int64_t* end) {
  if (mode == "VALID") {
    *begin = *end = 0;
    return;
  }
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - in);
  *begin = mode == "SAME_LOWER" ? total - total / 2 : total / 2;
  *end = total - *begin;
}

}  // namespace

absl::StatusOr<LayerInputGram> LayerInputGram::For(const Node& node, int weight_input,
                                                   int64_t channel_axis, const Shape& weights) {
  LayerInputGram gram;
  if (node.op_type == "Conv" && weight_input == 1 && channel_axis == 0 &&
      (weights.size() == 3 || weights.size() == 4)) {
    gram.kind_ = Kind::kConv;
    const size_t spatial = weights.size() - 2;
    OCTET_ASSIGN_OR_RETURN(gram.groups_, node.GetInt("group", 1));
    OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> strides,
                           node.GetInts("strides", std::vector<int64_t>(spatial, 1)));
    OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> dilations,
                           node.GetInts("dilations", std::vector<int64_t>(spatial, 1)));
    OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> pads,
                           node.GetInts("pads", std::vector<int64_t>(2 * spatial, 0)));
    OCTET_ASSIGN_OR_RETURN(gram.auto_pad_, node.GetString("auto_pad", "NOTSET"));
    if (gram.groups_ < 1 || weights[0] % gram.groups_ != 0 || strides.size() != spatial ||
        dilations.size() != spatial || pads.size() != 2 * spatial) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": malformed attributes"));
    }
    // A 1-D convolution is a 2-D one of height 1.
    const size_t first = 2 - spatial;
    for (size_t d = 0; d < spatial; ++d) {
      gram.kernel_[first + d] = weights[2 + d];
      gram.stride_[first + d] = strides[d];
      gram.dilation_[first + d] = dilations[d];
      gram.pad_begin_[first + d] = pads[d];
      gram.pad_end_[first + d] = pads[spatial + d];
    }
    gram.in_channels_per_group_ = weights[1];
    gram.rank_ = static_cast<int64_t>(weights.size());
    gram.size_ = weights[1] * gram.kernel_[0] * gram.kernel_[1];
  } else if (((node.op_type == "Gemm" && weight_input == 1) ||
              (node.op_type == "MatMul" && weight_input == 1)) &&
             weights.size() == 2 && (channel_axis == 0 || channel_axis == 1)) {
    if (node.op_type == "Gemm") {
      OCTET_ASSIGN_OR_RETURN(const int64_t trans_a, node.GetInt("transA", 0));
      if (trans_a != 0) return absl::UnimplementedError("Gemm with transA");
    }
    gram.kind_ = Kind::kRows;
    gram.size_ = weights[1 - channel_axis];
  } else {
    return absl::UnimplementedError(
        absl::StrCat(node.Describe(), ": no input statistics for these weights"));
  }
  return gram;  // the statistics are allocated by the first Add
}

LayerInputGram::Geometry LayerInputGram::GeometryOf(const Tensor& input) const {
  Geometry geometry;
  const bool one_d = input.rank() == 3;
  geometry.extent[0] = one_d ? 1 : input.dim(2);
  geometry.extent[1] = input.dim(input.rank() - 1);
  int64_t pad_end[2] = {pad_end_[0], pad_end_[1]};
  std::copy_n(pad_begin_, 2, geometry.pad_begin);
  for (int d = 0; d < 2; ++d) {
    if (auto_pad_ != "NOTSET" && !auto_pad_.empty() && (d == 1 || !one_d)) {
      AutoPad(auto_pad_, geometry.extent[d], kernel_[d], stride_[d], dilation_[d],
              &geometry.pad_begin[d], &pad_end[d]);
    }
    geometry.out[d] = (geometry.extent[d] + geometry.pad_begin[d] + pad_end[d] -
                       (kernel_[d] - 1) * dilation_[d] - 1) /
                          stride_[d] +
                      1;
  }
  return geometry;
}

void LayerInputGram::Im2Col(const Tensor& input, const Geometry& geometry, int64_t g,
                            const std::vector<int64_t>& positions,
                            std::vector<float>* patches) const {
  const int64_t channels = input.dim(1);
  const int64_t height = geometry.extent[0], width = geometry.extent[1];
  const int64_t* pad_begin = geometry.pad_begin;
  const int64_t out_h = geometry.out[0], out_w = geometry.out[1];
  const float* x = input.data<float>();
  patches->assign(positions.size() * size_, 0.0f);
  for (size_t r = 0; r < positions.size(); ++r) {
    const int64_t p = positions[r];
    const int64_t n = p / (out_h * out_w);
    const int64_t oy = (p / out_w) % out_h, ox = p % out_w;
    float* row = patches->data() + r * size_;
    for (int64_t ci = 0; ci < in_channels_per_group_; ++ci) {
      const float* plane = x + (n * channels + g * in_channels_per_group_ + ci) * height * width;
      for (int64_t ky = 0; ky < kernel_[0]; ++ky) {
        const int64_t iy = oy * stride_[0] - pad_begin[0] + ky * dilation_[0];
        for (int64_t kx = 0; kx < kernel_[1]; ++kx, ++row) {
          const int64_t ix = ox * stride_[1] - pad_begin[1] + kx * dilation_[1];
          if (iy >= 0 && iy < height && ix >= 0 && ix < width) *row = plane[iy * width + ix];
        }
      }
    }
  }
}

absl::Status LayerInputGram::Add(const Tensor& input, int64_t max_rows, uint64_t seed) {
  if (input.type() != DataType::kFloat32) {
    return absl::InvalidArgumentError("layer input is not float32");
  }
  int64_t total = 0;
  Geometry geometry{};
  if (kind_ == Kind::kConv) {
    if (input.rank() != rank_ || input.dim(1) != groups_ * in_channels_per_group_) {
      return absl::InvalidArgumentError(
          absl::StrCat("Conv input ", ShapeToString(input.shape()), " does not fit its weights"));
    }
    geometry = GeometryOf(input);
    const int64_t out_h = geometry.out[0], out_w = geometry.out[1];
    if (out_h < 1 || out_w < 1) return absl::OkStatus();
    total = input.dim(0) * out_h * out_w;
  } else {
    if (input.rank() < 1 || input.dim(input.rank() - 1) != size_) {
      return absl::InvalidArgumentError(absl::StrCat("input ", ShapeToString(input.shape()),
                                                     " does not end in the weights' ", size_));
    }
    total = input.element_count() / size_;
  }
  if (total == 0) return absl::OkStatus();
  if (gram_.empty()) gram_.assign(groups_ * size_ * size_, 0.0);
  const std::vector<int64_t> positions = ChoosePositions(total, max_rows, seed);
  const auto count = static_cast<int64_t>(positions.size());
  std::vector<float> patches;
  std::vector<float> product(size_ * size_);
  for (int64_t g = 0; g < groups_; ++g) {
    if (kind_ == Kind::kConv) {
      Im2Col(input, geometry, g, positions, &patches);
    } else {
      patches.resize(count * size_);
      for (int64_t r = 0; r < count; ++r) {
        std::copy_n(input.data<float>() + positions[r] * size_, size_, patches.data() + r * size_);
      }
    }
    OCTET_RETURN_IF_ERROR(GramMatrix(patches.data(), count, size_, product.data()));
    double* out = gram_.data() + g * size_ * size_;
    for (int64_t i = 0; i < size_ * size_; ++i) out[i] += product[i];
  }
  rows_ += count;
  return absl::OkStatus();
}

absl::StatusOr<QuantizedTensor> RoundWeightsToGram(const Tensor& weights, int64_t channel_axis,
                                                   const WeightQuantizationSpec& spec,
                                                   const LayerInputGram& gram) {
  WeightQuantizationSpec nearest = spec;
  nearest.rounding = Rounding::kNearest;
  OCTET_ASSIGN_OR_RETURN(QuantizedTensor result, QuantizeWeights(weights, channel_axis, nearest));
  const Shape& shape = weights.shape();
  if (channel_axis < 0 || channel_axis >= static_cast<int64_t>(shape.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("channel axis ", channel_axis, " is out of range for ", ShapeToString(shape)));
  }
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < channel_axis; ++i) outer *= shape[i];
  for (size_t i = channel_axis + 1; i < shape.size(); ++i) inner *= shape[i];
  const int64_t channels = shape[channel_axis];
  const int64_t n = outer * inner;
  if (n != gram.size() || channels % gram.groups() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("weights ", ShapeToString(shape),
                                                   " do not match input statistics of size ",
                                                   gram.size(), " in ", gram.groups(), " groups"));
  }
  if (gram.rows() == 0) return result;  // nothing seen: nearest rounding stands
  const QuantizationParams& params = result.params;
  const IntegerRange range = params.format.range();
  const float* w = weights.data<float>();
  int8_t* q = result.values.data<int8_t>();
  auto element = [&](int64_t c, int64_t k) {
    return (k / inner * channels + c) * inner + k % inner;
  };
  const int64_t per_group = channels / gram.groups();
  for (int64_t g = 0; g < gram.groups(); ++g) {
    const double* h = gram.gram(g);
    double mean_diagonal = 0.0;
    for (int64_t i = 0; i < n; ++i) mean_diagonal += h[i * n + i];
    mean_diagonal /= static_cast<double>(n);
    if (!(mean_diagonal > 0.0) || !std::isfinite(mean_diagonal)) continue;  // inputs all zero
    // Act order: the coordinates whose inputs carry the most energy first.
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return h[a * n + a] > h[b * n + b]; });
    // Dampened (GPTQ's 1% of the mean diagonal, raised while H is not positive definite).
    std::vector<double> upper;
    bool factored = false;
    for (double damp = 0.01; damp <= 10.0 && !factored; damp *= 10.0) {
      std::vector<double> permuted(n * n);
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < n; ++j) permuted[i * n + j] = h[order[i] * n + order[j]];
        permuted[i * n + i] += damp * mean_diagonal;
      }
      factored = InverseUpperFactor(permuted, n, &upper);
    }
    if (!factored) continue;
    // GPTQ's lazy batches: the coordinates go in blocks; within a block each channel's errors
    // update only the block's coordinates, and the block's errors then update every later
    // coordinate of every channel at once, as one matrix product (the per-coordinate form
    // streams the whole factor once per channel).
    const int64_t first = g * per_group;
    std::vector<double> rows(per_group * n);
    for (int64_t r = 0; r < per_group; ++r) {
      for (int64_t i = 0; i < n; ++i) rows[r * n + i] = w[element(first + r, order[i])];
    }
    std::vector<double> errors(per_group * kLazyBlock);
    for (int64_t begin = 0; begin < n; begin += kLazyBlock) {
      const int64_t end = std::min(n, begin + kLazyBlock);
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < per_group; ++r) {
        const int64_t c = first + r;
        const float s = params.scales[params.per_channel() ? c : 0];
        const int32_t z = params.zero_points[params.per_channel() ? c : 0];
        double* row = rows.data() + r * n;
        for (int64_t i = begin; i < end; ++i) {
          const int32_t value = QuantizeValue(static_cast<float>(row[i]), s, z, range);
          q[element(c, order[i])] = static_cast<int8_t>(value);
          const double error =
              (row[i] - static_cast<double>(DequantizeValue(value, s, z))) / upper[i * n + i];
          errors[r * kLazyBlock + (i - begin)] = error;
          const double* u = upper.data() + i * n;
#pragma omp simd
          for (int64_t j = i + 1; j < end; ++j) row[j] -= error * u[j];
        }
      }
      if (end < n) {
        // rows[:, end:] -= errors[:, :block] x upper[begin:end, end:], row-major; column-major
        // for BLAS, the transposed product.
        const int m = static_cast<int>(n - end), columns = static_cast<int>(per_group),
                  depth = static_cast<int>(end - begin), ld = static_cast<int>(n),
                  ld_errors = static_cast<int>(kLazyBlock);
        const double minus_one = -1.0, one = 1.0;
        dgemm_("N", "N", &m, &columns, &depth, &minus_one, upper.data() + begin * n + end, &ld,
               errors.data(), &ld_errors, &one, rows.data() + end, &ld, 1, 1);
      }
    }
  }
  return result;
}

std::string LinearAlgebraKernels() { return openblas_get_corename(); }

std::string LinearAlgebraCoreTypeToSet() {
  const std::string kernels = LinearAlgebraKernels();
  // OpenBLAS's x86-64 core names with AVX2 and FMA kernels or newer.
  const bool modern = kernels == "Haswell" || kernels == "SkylakeX" || kernels == "Zen" ||
                      kernels == "CooperLake" || kernels == "SapphireRapids";
  if (modern || !cpu::Cpu().avx2 || std::getenv("OPENBLAS_CORETYPE") != nullptr) return "";
  return cpu::Cpu().avx512 ? "SkylakeX" : "Haswell";
}

std::string LinearAlgebraAdvice() {
  const std::string core = LinearAlgebraCoreTypeToSet();
  if (core.empty()) return "";
  return absl::StrCat("OpenBLAS does not know this CPU and runs its ", LinearAlgebraKernels(),
                      " kernels for GPTQ; start with OPENBLAS_CORETYPE=", core,
                      " for its AVX kernels (quantization jobs about 1.4x faster)");
}

}  // namespace octet
