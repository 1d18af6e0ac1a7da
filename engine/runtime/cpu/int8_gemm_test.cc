#include "engine/runtime/cpu/int8_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/runtime/cpu/cpu_features.h"
#include "gtest/gtest.h"

namespace octet::cpu {
namespace {

struct GemmCase {
  int64_t m, k, n;
  DataType a_type, y_type;
  std::string activation;  // "", "relu", "leaky", "clip"
  int64_t pixels = 0;      // > 1: a channels-first source of m / pixels images
};

// The exact integer sum, then the same requantization in double precision.
std::vector<double> Reference(const GemmCase& c, const std::vector<uint8_t>& a,
                              const Int8GemmSpec& spec) {
  std::vector<double> y(c.m * c.n);
  for (int64_t r = 0; r < c.m; ++r) {
    for (int64_t j = 0; j < c.n; ++j) {
      int64_t acc = 0;
      for (int64_t i = 0; i < c.k; ++i) {
        int64_t x;
        if (c.pixels > 1) {
          const int64_t image = r / c.pixels, q = r % c.pixels;
          x = a[(image * c.k + i) * c.pixels + q];
        } else {
          x = a[r * c.k + i];
        }
        if (c.a_type == DataType::kInt8) x = static_cast<int8_t>(x);
        acc += x * spec.weights[i * c.n + j];
      }
      double v = static_cast<double>(acc) * spec.scales[j] + spec.addend[j];
      if (v < 0) v *= spec.negative_slope;
      v = std::min<double>(std::max<double>(v, spec.low), spec.high);
      if (c.y_type != DataType::kFloat32) {
        v = std::nearbyint(v + spec.y_zero);
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
  std::mt19937 rng(static_cast<uint32_t>(c.m * 131 + c.k * 17 + c.n));
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
  spec.pixels = c.pixels;
  spec.rows = c.pixels > 1 ? c.m : 0;
  std::vector<uint8_t> a(c.m * c.k);
  for (uint8_t& v : a) v = static_cast<uint8_t>(byte(rng));
  const std::vector<double> expected = Reference(c, a, spec);

  auto kernel = MakeInt8GemmKernel(spec);
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  Tensor x = *Tensor::FromBytes(c.a_type, {c.m, c.k}, a.data(), a.size());
  Tensor y = *Tensor::Create(c.y_type, {c.m, c.n});
  std::vector<char> scratch((*kernel)->scratchpad_bytes() + 64);
  ExecutionContext context;
  context.scratchpad =
      reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
  const Tensor* inputs[] = {&x};
  Tensor* outputs[] = {&y};
  ASSERT_TRUE((*kernel)->Run(inputs, outputs, context).ok());
  for (int64_t i = 0; i < c.m * c.n; ++i) {
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

INSTANTIATE_TEST_SUITE_P(
    Shapes, Int8GemmTest,
    ::testing::Values(GemmCase{1, 1, 1, DataType::kUint8, DataType::kUint8, ""},
                      GemmCase{1, 512, 10, DataType::kUint8, DataType::kFloat32, ""},
                      GemmCase{6, 16, 16, DataType::kUint8, DataType::kUint8, "relu"},
                      GemmCase{7, 17, 17, DataType::kInt8, DataType::kInt8, "clip"},
                      GemmCase{13, 15, 40, DataType::kUint8, DataType::kInt8, "leaky"},
                      GemmCase{5, 129, 8, DataType::kInt8, DataType::kUint8, ""},
                      GemmCase{50, 64, 33, DataType::kUint8, DataType::kUint8, "relu"},
                      // Channels-first sources: 2 images of 7 pixels, 3 of 12.
                      GemmCase{14, 24, 20, DataType::kUint8, DataType::kUint8, "relu", 7},
                      GemmCase{36, 9, 16, DataType::kInt8, DataType::kInt8, "", 12}),
    [](const ::testing::TestParamInfo<GemmCase>& info) {
      const GemmCase& c = info.param;
      return absl::StrCat("m", c.m, "k", c.k, "n", c.n, c.activation.empty() ? "" : "_",
                          c.activation, c.pixels > 1 ? "_channels_first" : "",
                          c.y_type == DataType::kFloat32 ? "_float" : "");
    });

}  // namespace
}  // namespace octet::cpu
