#include "engine/runtime/cpu/int8_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/runtime/cpu/cpu_features.h"
#include "engine/runtime/cpu/int8_winograd.h"
#include "gtest/gtest.h"

namespace octet::cpu {
namespace {

struct GemmCase {
  int64_t m, k, n;
  DataType a_type, y_type;
  std::string activation;  // "", "relu", "leaky", "clip"
  int64_t pixels = 0;      // > 1: a channels-first source of m / pixels images
  // A convolution (kernel > 0): m images of size x size x channels (k = kernel^2 x channels).
  int64_t kernel = 0, size = 0, channels = 0, stride = 1, dilation = 1, pad = 0;
  uint8_t pad_byte = 0;
  int a_zero = 0;         // the source zero point, subtracted in the sums
  bool residual = false;  // a residual Add fused after the product (Relu when "relu")
  int64_t out() const { return (size + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1; }
  int64_t rows() const { return kernel > 0 ? m * out() * out() : m; }
  int64_t source_bytes() const { return kernel > 0 ? m * size * size * channels : m * k; }
};

// The exact integer sum, then the same requantization in double precision.
// A source element of row r at position i of its K; for a convolution, the receptive field read
// straight from the source (channels-first when pixels > 1), the pad byte outside.
int64_t Element(const GemmCase& c, const std::vector<uint8_t>& a, int64_t r, int64_t i) {
  if (c.kernel == 0) {
    if (c.pixels > 1) {
      const int64_t image = r / c.pixels, q = r % c.pixels;
      return a[(image * c.k + i) * c.pixels + q];
    }
    return a[r * c.k + i];
  }
  const int64_t out = c.out(), image = r / (out * out), oy = r % (out * out) / out, ox = r % out;
  const int64_t tap = i / c.channels, channel = i % c.channels;
  const int64_t iy = oy * c.stride - c.pad + tap / c.kernel * c.dilation;
  const int64_t ix = ox * c.stride - c.pad + tap % c.kernel * c.dilation;
  if (iy < 0 || iy >= c.size || ix < 0 || ix >= c.size) return c.pad_byte;
  if (c.pixels > 1) return a[((image * c.channels + channel) * c.size + iy) * c.size + ix];
  return a[((image * c.size + iy) * c.size + ix) * c.channels + channel];
}

std::vector<double> Reference(const GemmCase& c, const std::vector<uint8_t>& a,
                              const Int8GemmSpec& spec, const std::vector<uint8_t>& residual) {
  std::vector<double> y(c.rows() * c.n);
  for (int64_t r = 0; r < c.rows(); ++r) {
    for (int64_t j = 0; j < c.n; ++j) {
      int64_t acc = 0;
      for (int64_t i = 0; i < c.k; ++i) {
        int64_t x = Element(c, a, r, i);
        if (c.a_type == DataType::kInt8) x = static_cast<int8_t>(x);
        acc += (x - c.a_zero) * spec.weights[i * c.n + j];
      }
      double v = static_cast<double>(acc) * spec.scales[j] + spec.addend[j];
      if (v < 0) v *= spec.negative_slope;
      v = std::min<double>(std::max<double>(v, spec.low), spec.high);
      if (c.y_type != DataType::kFloat32) {
        v = std::nearbyint(v + spec.y_zero);
        v = c.y_type == DataType::kUint8 ? std::clamp(v, 0.0, 255.0) : std::clamp(v, -128.0, 127.0);
      }
      if (spec.residual.has_value()) {
        const Int8GemmSpec::Residual& s = *spec.residual;
        const uint8_t byte = residual[r * c.n + j];
        const double other = c.y_type == DataType::kInt8 ? static_cast<int8_t>(byte) : byte;
        v = (v - spec.y_zero) * s.scale + (other - s.zero) * s.residual_scale;
        if (s.relu) v = std::max(v, 0.0);
        v = std::nearbyint(v + s.y_zero);
        v = c.y_type == DataType::kUint8 ? std::clamp(v, 0.0, 255.0) : std::clamp(v, -128.0, 127.0);
      }
      y[r * c.n + j] = v;
    }
  }
  return y;
}

class Int8GemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(Int8GemmTest, SumsEightBitWeightsExactlyAndRequantizesWithinOneStep) {
  if (!Int8GemmAvailable()) {
    GTEST_SKIP() << "this CPU has VNNI (" << Cpu().Describe()
                 << "): oneDNN's kernels are exact there and this one is not used; "
                    "int8_gemm_test_avx2 runs it";
  }
  const GemmCase& c = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(c.m * 131 + c.k * 17 + c.n + c.kernel * 7 + c.pad));
  std::uniform_int_distribution<int> byte(0, 255), weight(-128, 127);
  std::uniform_real_distribution<float> unit(0.5f, 1.5f), signed_unit(-1.0f, 1.0f);
  Int8GemmSpec spec;
  spec.k = c.k;
  spec.n = c.n;
  spec.a_type = c.a_type;
  spec.y_type = c.y_type;
  for (int64_t i = 0; i < c.k * c.n; ++i) spec.weights.push_back(static_cast<int8_t>(weight(rng)));
  const float step = 1.0f / (c.k * 128.0f);  // outputs spread over a few hundred steps
  for (int64_t j = 0; j < c.n; ++j) {
    spec.scales.push_back(step * unit(rng));
    spec.addend.push_back(20.0f * signed_unit(rng));
  }
  if (c.activation == "relu") spec.negative_slope = 0.0f;
  if (c.activation == "leaky") spec.negative_slope = 0.1f;
  if (c.activation == "clip") {
    spec.low = -30.0f;
    spec.high = 40.0f;
  }
  spec.y_zero = c.y_type == DataType::kUint8 ? 100 : c.y_type == DataType::kInt8 ? -7 : 0;
  spec.a_zero = c.a_zero;
  spec.pixels = c.pixels;
  spec.rows = c.kernel > 0 ? c.m * c.size * c.size : c.pixels > 1 ? c.m : 0;
  if (c.kernel > 0) {
    Int8GemmSpec::Convolution conv;
    conv.in_h = conv.in_w = c.size;
    conv.channels = c.channels;
    conv.out_h = conv.out_w = c.out();
    conv.kernel_h = conv.kernel_w = c.kernel;
    conv.stride_h = conv.stride_w = c.stride;
    conv.dilation_h = conv.dilation_w = c.dilation;
    conv.pad_top = conv.pad_left = c.pad;
    conv.pad = c.pad_byte;
    spec.convolution = conv;
  }
  std::vector<uint8_t> a(c.source_bytes());
  for (uint8_t& v : a) v = static_cast<uint8_t>(byte(rng));
  std::vector<uint8_t> residual;
  if (c.residual) {
    Int8GemmSpec::Residual fused;
    fused.scale = 0.8f;
    fused.residual_scale = 1.3f;
    fused.zero = c.y_type == DataType::kUint8 ? 17 : -9;
    fused.y_zero = c.y_type == DataType::kUint8 ? 5 : 3;
    fused.relu = c.activation == "relu";
    spec.residual = fused;
    residual.resize(c.rows() * c.n);
    for (uint8_t& v : residual) v = static_cast<uint8_t>(byte(rng));
  }
  const std::vector<double> expected = Reference(c, a, spec, residual);

  // Both kernels where the Winograd one applies (3x3, stride 1): the same results.
  std::vector<std::pair<std::string, absl::StatusOr<std::unique_ptr<Kernel>>>> kernels;
  kernels.emplace_back("direct", MakeInt8GemmKernel(spec));
  if (Int8WinogradApplies(spec).ok())
    kernels.emplace_back("winograd", MakeInt8WinogradKernel(spec));
  for (auto& [name, kernel] : kernels) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(kernel.ok()) << kernel.status();
    Tensor x = c.kernel > 0 ? *Tensor::FromBytes(c.a_type, {c.m, c.size, c.size, c.channels},
                                                 a.data(), a.size())
                            : *Tensor::FromBytes(c.a_type, {c.m, c.k}, a.data(), a.size());
    Tensor y = *Tensor::Create(c.y_type, {c.rows(), c.n});
    // A fused residual is read from the destination, which the result is written over.
    if (c.residual) std::memcpy(y.raw_data(), residual.data(), residual.size());
    std::vector<char> scratch((*kernel)->scratchpad_bytes() + 64);
    ExecutionContext context;
    context.scratchpad =
        reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
    const Tensor* inputs[] = {&x};
    Tensor* outputs[] = {&y};
    ASSERT_TRUE((*kernel)->Run(inputs, outputs, context).ok());
    for (int64_t i = 0; i < c.rows() * c.n; ++i) {
      double got;
      if (c.y_type == DataType::kUint8) {
        got = y.data<uint8_t>()[i];
      } else if (c.y_type == DataType::kInt8) {
        got = y.data<int8_t>()[i];
      } else {
        got = y.data<float>()[i];
      }
      // Float rounding of acc * scale + addend may cross a half step; never more.
      const double tolerance =
          c.y_type == DataType::kFloat32 ? 1e-4 * (1 + std::abs(expected[i])) : 1.0;
      ASSERT_NEAR(got, expected[i], tolerance) << "row " << i / c.n << " column " << i % c.n;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Int8GemmTest,
    ::testing::Values(
        GemmCase{1, 1, 1, DataType::kUint8, DataType::kUint8, ""},
        GemmCase{1, 512, 10, DataType::kUint8, DataType::kFloat32, ""},
        GemmCase{6, 16, 16, DataType::kUint8, DataType::kUint8, "relu"},
        GemmCase{7, 17, 17, DataType::kInt8, DataType::kInt8, "clip"},
        GemmCase{13, 15, 40, DataType::kUint8, DataType::kInt8, "leaky"},
        GemmCase{5, 129, 8, DataType::kInt8, DataType::kUint8, ""},
        GemmCase{50, 64, 33, DataType::kUint8, DataType::kUint8, "relu"},
        // Channels-first sources: 2 images of 7 pixels, 3 of 12.
        GemmCase{14, 24, 20, DataType::kUint8, DataType::kUint8, "relu", 7},
        GemmCase{36, 9, 16, DataType::kInt8, DataType::kInt8, "", 12},
        // Several chunks of rows (256 at this K; 48 at K 1000), several column
        // blocks, and a partial tile at the end of each; a source zero point.
        GemmCase{601, 20, 40, DataType::kUint8, DataType::kUint8, "relu", 0, 0, 0, 0, 1, 1, 0, 0,
                 77},
        GemmCase{103, 1000, 33, DataType::kUint8, DataType::kInt8, "clip"},
        // Convolutions: 3x3 padded with its source zero point, strided with odd
        // channels, dilated (an s8 source padded with its zero point), a 7x7 stride-2
        // stem over a channels-first source of 3 channels, a strided 1x1, s8 sources,
        // receptive fields over several row chunks.
        GemmCase{2, 72, 20, DataType::kUint8, DataType::kUint8, "relu", 0, 3, 9, 8, 1, 1, 1, 131,
                 131},
        GemmCase{1, 45, 17, DataType::kUint8, DataType::kInt8, "", 0, 3, 10, 5, 2, 1, 1, 7},
        GemmCase{2, 36, 16, DataType::kInt8, DataType::kUint8, "leaky", 0, 3, 11, 4, 1, 2, 2, 250,
                 -6},
        GemmCase{2, 147, 24, DataType::kUint8, DataType::kUint8, "relu", 121, 7, 11, 3, 2, 1, 3,
                 128},
        GemmCase{3, 24, 32, DataType::kUint8, DataType::kFloat32, "", 0, 1, 9, 24, 2, 1, 0, 0},
        GemmCase{2, 576, 48, DataType::kUint8, DataType::kUint8, "clip", 0, 3, 20, 64, 1, 1, 1, 90},
        GemmCase{1, 31, 8, DataType::kInt8, DataType::kInt8, "", 0, 1, 5, 31, 1, 1, 0, 0},
        // Odd runs of the widened source (K segments of 3 channels per dilated tap, of 15 values
        // per kernel row), whose last pair reads one value past the run times a zero weight;
        // chunks of rows that cross images.
        GemmCase{2, 27, 16, DataType::kInt8, DataType::kInt8, "", 0, 3, 9, 3, 1, 2, 2, 5, 5},
        GemmCase{3, 45, 24, DataType::kUint8, DataType::kUint8, "relu", 0, 3, 20, 5, 1, 1, 1, 0},
        GemmCase{3, 72, 24, DataType::kUint8, DataType::kUint8, "relu", 0, 3, 21, 8, 1, 1, 1, 12,
                 12},
        // 3x3 of stride 1, where the Winograd kernel runs too: odd output sizes (partial 2x2
        // tiles), channels past a vector of 16 and an odd count, partial column blocks, tiles over
        // several blocks, no padding, 1,024 channels (its limit), a channels-first source.
        GemmCase{2, 180, 40, DataType::kInt8, DataType::kUint8, "leaky", 0, 3, 15, 20, 1, 1, 1, 250,
                 -6},
        GemmCase{1, 297, 17, DataType::kUint8, DataType::kFloat32, "", 0, 3, 12, 33, 1, 1, 0, 0},
        GemmCase{4, 144, 16, DataType::kUint8, DataType::kUint8, "relu", 0, 3, 28, 16, 1, 1, 1, 0},
        GemmCase{1, 9216, 16, DataType::kUint8, DataType::kInt8, "", 0, 3, 4, 1024, 1, 1, 1, 3, 3},
        GemmCase{2, 45, 16, DataType::kUint8, DataType::kUint8, "relu", 64, 3, 8, 5, 1, 1, 1, 9, 9},
        // A residual Add fused after the product, read from the destination and written over:
        // a product (Relu after the sum), a 3x3 convolution on both kernels (s8, partial column
        // blocks and edge tiles), a LeakyRelu before the sum.
        GemmCase{37, 40, 24, DataType::kUint8, DataType::kUint8, "relu", 0, 0, 0, 0, 1, 1, 0, 0, 0,
                 true},
        GemmCase{2, 360, 40, DataType::kUint8, DataType::kInt8, "", 0, 3, 9, 40, 1, 1, 1, 0, 0,
                 true},
        GemmCase{1, 288, 32, DataType::kInt8, DataType::kUint8, "leaky", 0, 3, 7, 32, 1, 1, 1, 4, 4,
                 true}),
    [](const ::testing::TestParamInfo<GemmCase>& info) {
      const GemmCase& c = info.param;
      return absl::StrCat(
          "m", c.m, "k", c.k, "n", c.n,
          c.kernel > 0 ? absl::StrCat("_conv", c.kernel, "x", c.kernel, "s", c.stride, "d",
                                      c.dilation, "p", c.pad, "_", c.size, "x", c.size)
                       : "",
          c.activation.empty() ? "" : "_", c.activation, c.pixels > 1 ? "_channels_first" : "",
          c.a_zero != 0 ? "_zero_point" : "", c.y_type == DataType::kFloat32 ? "_float" : "",
          c.residual ? "_residual" : "");
    });

}  // namespace
}  // namespace octet::cpu
