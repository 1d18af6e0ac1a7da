// Octet's int8 depthwise convolution against a plain reference implementation of what its spec
// says (int32 sums, then the same float operations in the same order): every byte equal, over
// random shapes (strides, dilations, pads, odd channel counts, kernels with and without a
// specialised body), 8- and 7-bit weights (the 4-tap VPMADDUBSW body), u8 and s8 sources and
// results, zero points and activations, sources channels-last and plain.
#include "engine/runtime/cpu/int8_depthwise_conv.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::cpu {
namespace {

using Activation = Int8DepthwiseConvSpec::Activation;
using ::octet::testing::StatusIs;

struct DepthwiseCase {
  std::string name;
  int64_t batch, channels, in_h, in_w, kernel_h, kernel_w, stride, dilation;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
  DataType x_type, y_type;
  int32_t x_zero, y_zero;
  Activation activation;
  bool channels_last;
};

std::ostream& operator<<(std::ostream& os, const DepthwiseCase& c) { return os << c.name; }

int64_t OutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t begin,
                   int64_t end) {
  return (in + begin + end - ((kernel - 1) * dilation + 1)) / stride + 1;
}

// weight_bits 8: the whole 8-bit range; 7: [-64, 64], what a 7-bit job makes (and where the
// 4-tap VPMADDUBSW body takes u8 sources).
Int8DepthwiseConvSpec MakeSpec(const DepthwiseCase& c, int weight_bits, std::mt19937& rng) {
  Int8DepthwiseConvSpec s;
  s.x_type = c.x_type;
  s.y_type = c.y_type;
  s.x_channels_last = c.channels_last;
  s.batch = c.batch;
  s.channels = c.channels;
  s.in_h = c.in_h;
  s.in_w = c.in_w;
  s.kernel_h = c.kernel_h;
  s.kernel_w = c.kernel_w;
  s.stride_h = s.stride_w = c.stride;
  s.dilation_h = s.dilation_w = c.dilation;
  s.pad_top = c.pad_top;
  s.pad_left = c.pad_left;
  s.out_h = OutputSize(c.in_h, c.kernel_h, c.stride, c.dilation, c.pad_top, c.pad_bottom);
  s.out_w = OutputSize(c.in_w, c.kernel_w, c.stride, c.dilation, c.pad_left, c.pad_right);
  s.x_zero = c.x_zero;
  s.y_zero = c.y_zero;
  // 8 bits: the whole range, -128 included (the products oneDNN's AVX2 kernels saturate); 7 bits:
  // both ends of [-64, 64] included, where VPMADDUBSW's pair sums come closest to saturating.
  std::uniform_int_distribution<int> weight(weight_bits == 8 ? -128 : -64,
                                            weight_bits == 8 ? 127 : 64);
  s.weights.resize(c.channels * c.kernel_h * c.kernel_w);
  for (int8_t& w : s.weights) w = static_cast<int8_t>(weight(rng));
  std::uniform_real_distribution<float> bias(-3000.0f, 3000.0f);
  std::uniform_real_distribution<float> scale(0.5f, 1.5f);
  // Scales that spread the results over the output range, so that saturation is exercised too.
  const float unit =
      4.0f / (128.0f * 128.0f * std::sqrt(static_cast<float>(c.kernel_h * c.kernel_w)));
  for (int64_t ch = 0; ch < c.channels; ++ch) {
    s.bias.push_back(bias(rng));
    s.scale.push_back(unit * scale(rng) * 40.0f);
  }
  s.activation = c.activation;
  if (c.activation == Activation::kLeakyRelu) s.alpha = 0.1f;
  if (c.activation == Activation::kClip) {
    s.alpha = -20.0f;
    s.beta = 57.3f;
  }
  if (c.activation == Activation::kHardSwish) {
    // Real units: scale is s_x * s_w, post_scale 1 / s_y.
    for (float& v : s.scale) v *= 0.05f;
    s.post_scale = 1.0f / 0.05f;
  }
  return s;
}

// x is [N][C][H][W] values (as int32) whatever the layout the kernel reads; the result is
// [N][OH][OW][C] bytes.
std::vector<uint8_t> Reference(const Int8DepthwiseConvSpec& s, const std::vector<int32_t>& x) {
  std::vector<uint8_t> y(s.batch * s.out_h * s.out_w * s.channels);
  const bool unsigned_y = s.y_type == DataType::kUint8;
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t c = 0; c < s.channels; ++c) {
      for (int64_t oh = 0; oh < s.out_h; ++oh) {
        for (int64_t ow = 0; ow < s.out_w; ++ow) {
          int32_t acc = 0;
          for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
            for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
              const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
              const int64_t iw = ow * s.stride_w - s.pad_left + kw * s.dilation_w;
              const bool inside = ih >= 0 && ih < s.in_h && iw >= 0 && iw < s.in_w;
              const int32_t value =
                  inside ? x[((n * s.channels + c) * s.in_h + ih) * s.in_w + iw] : s.x_zero;
              acc += value * s.weights[(c * s.kernel_h + kh) * s.kernel_w + kw];
            }
          }
          float v = (static_cast<float>(acc) + s.bias[c]) * s.scale[c];
          switch (s.activation) {
            case Activation::kRelu:
              v = std::max(v, 0.0f);
              break;
            case Activation::kClip:
              v = std::min(std::max(v, s.alpha), s.beta);
              break;
            case Activation::kLeakyRelu:
              v = (v < 0.0f ? v * s.alpha : v) * s.post_scale;
              break;
            case Activation::kHardSwish:
              v = v * std::min(std::max(v + 3.0f, 0.0f), 6.0f) * (1.0f / 6.0f) * s.post_scale;
              break;
            case Activation::kNone:
              break;
          }
          const float low = (unsigned_y ? 0.0f : -128.0f) - static_cast<float>(s.y_zero);
          const float high = (unsigned_y ? 255.0f : 127.0f) - static_cast<float>(s.y_zero);
          v = std::min(std::max(v, low), high);
          const int32_t q = static_cast<int32_t>(std::nearbyint(v)) + s.y_zero;
          y[((n * s.out_h + oh) * s.out_w + ow) * s.channels + c] = static_cast<uint8_t>(q);
        }
      }
    }
  }
  return y;
}

class Int8DepthwiseConvTest : public ::testing::TestWithParam<DepthwiseCase> {};

void CheckAgainstReference(const DepthwiseCase& c, int weight_bits);

TEST_P(Int8DepthwiseConvTest, EqualsThePlainReference) {
  if (!Int8DepthwiseConvAvailable()) {
    GTEST_SKIP() << "this CPU runs oneDNN's depthwise kernels (no AVX2, or VNNI)";
  }
  const DepthwiseCase& c = GetParam();
  for (const int weight_bits : {8, 7}) {
    SCOPED_TRACE(absl::StrCat(weight_bits, "-bit weights"));
    CheckAgainstReference(c, weight_bits);
  }
}

void CheckAgainstReference(const DepthwiseCase& c, int weight_bits) {
  std::mt19937 rng(17);
  const Int8DepthwiseConvSpec spec = MakeSpec(c, weight_bits, rng);
  std::uniform_int_distribution<int> byte(c.x_type == DataType::kUint8 ? 0 : -128,
                                          c.x_type == DataType::kUint8 ? 255 : 127);
  std::vector<int32_t> values(c.batch * c.channels * c.in_h * c.in_w);
  for (int32_t& v : values) v = byte(rng);
  // The source in the layout the kernel reads.
  OCTET_ASSERT_OK_AND_ASSIGN(Tensor x,
                             Tensor::Create(c.x_type, {c.batch, c.channels, c.in_h, c.in_w}));
  auto* bytes = static_cast<uint8_t*>(x.raw_data());
  for (int64_t n = 0; n < c.batch; ++n) {
    for (int64_t ch = 0; ch < c.channels; ++ch) {
      for (int64_t h = 0; h < c.in_h; ++h) {
        for (int64_t w = 0; w < c.in_w; ++w) {
          const int64_t plain = ((n * c.channels + ch) * c.in_h + h) * c.in_w + w;
          const int64_t at =
              c.channels_last ? ((n * c.in_h + h) * c.in_w + w) * c.channels + ch : plain;
          bytes[at] = static_cast<uint8_t>(values[plain]);
        }
      }
    }
  }
  const std::vector<uint8_t> expected = Reference(spec, values);
  OCTET_ASSERT_OK_AND_ASSIGN(
      Tensor y, Tensor::Create(c.y_type, {c.batch, c.channels, spec.out_h, spec.out_w}));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Kernel> kernel, MakeInt8DepthwiseConvKernel(spec));
  // The 4-tap body takes u8 sources with 7-bit weights, 3x3 and 5x5, 32 channels at a time.
  const bool quads = weight_bits == 7 && c.x_type == DataType::kUint8 && c.channels >= 32 &&
                     c.kernel_h == c.kernel_w && (c.kernel_h == 3 || c.kernel_h == 5);
  EXPECT_EQ(kernel->implementation(),
            quads ? "octet:avx2 (u8 x 7-bit weights, 4 taps by VPMADDUBSW)" : "octet:avx2");
  std::vector<char> scratch(kernel->scratchpad_bytes());
  ExecutionContext context;
  context.scratchpad = scratch.data();
  const Tensor* inputs[] = {&x};
  Tensor* outputs[] = {&y};
  OCTET_ASSERT_OK(kernel->Run(inputs, outputs, context));
  const auto* actual = static_cast<const uint8_t*>(y.raw_data());
  int64_t mismatches = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (actual[i] != expected[i] && mismatches++ < 5) {
      ADD_FAILURE() << "element " << i << " (channel " << i % c.channels << "): " << int{actual[i]}
                    << " != " << int{expected[i]};
    }
  }
  EXPECT_EQ(mismatches, 0);
  // Saturation and the activation's bounds are reached, and not everything is clamped.
  const auto [low, high] = std::minmax_element(expected.begin(), expected.end());
  EXPECT_LT(*low, *high);
}

TEST(Int8DepthwiseConvSpecTest, InconsistentSpecsAreRefused) {
  if (!Int8DepthwiseConvAvailable()) GTEST_SKIP() << "kernel not available here";
  std::mt19937 rng(1);
  Int8DepthwiseConvSpec spec =
      MakeSpec({"ok", 1, 16, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, DataType::kUint8, DataType::kUint8, 0, 0,
                Activation::kNone, true},
               8, rng);
  OCTET_EXPECT_OK(MakeInt8DepthwiseConvKernel(spec).status());
  Int8DepthwiseConvSpec short_weights = spec;
  short_weights.weights.pop_back();
  EXPECT_THAT(MakeInt8DepthwiseConvKernel(short_weights).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("143 weights")));
  Int8DepthwiseConvSpec too_large = spec;
  too_large.kernel_h = too_large.kernel_w = 9;  // 81 taps
  EXPECT_THAT(MakeInt8DepthwiseConvKernel(too_large).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  Int8DepthwiseConvSpec float_source = spec;
  float_source.x_type = DataType::kFloat32;
  EXPECT_THAT(MakeInt8DepthwiseConvKernel(float_source).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(Int8DepthwiseConvSpecTest, AppliesToOneFilterPerChannelOnly) {
  if (!Int8DepthwiseConvAvailable()) GTEST_SKIP() << "kernel not available here";
  EXPECT_TRUE(Int8DepthwiseConvApplies({32, 1, 3, 3}, 32, "Clip"));
  EXPECT_TRUE(Int8DepthwiseConvApplies({32, 1, 8, 8}, 32, ""));
  EXPECT_FALSE(Int8DepthwiseConvApplies({32, 1, 9, 9}, 32, ""));  // 81 taps
  EXPECT_FALSE(Int8DepthwiseConvApplies({64, 1, 3, 3}, 32, ""));  // channel multiplier 2
  EXPECT_FALSE(Int8DepthwiseConvApplies({32, 2, 3, 3}, 16, ""));  // grouped
  EXPECT_FALSE(Int8DepthwiseConvApplies({32, 1, 3}, 32, ""));     // 1-D
  EXPECT_FALSE(Int8DepthwiseConvApplies({32, 1, 3, 3}, 32, "Sigmoid"));
}

constexpr DataType kU8 = DataType::kUint8;
constexpr DataType kS8 = DataType::kInt8;

INSTANTIATE_TEST_SUITE_P(
    Shapes, Int8DepthwiseConvTest,
    ::testing::Values(
        // MobileNetV2's: 3x3, stride 1 and 2, padded by 1, ReLU6, channels-last.
        DepthwiseCase{"mobilenet_stride1", 2, 32, 12, 12, 3, 3, 1, 1, 1, 1, 1, 1, kU8, kU8, 0, 0,
                      Activation::kClip, true},
        DepthwiseCase{"mobilenet_stride2", 1, 48, 13, 14, 3, 3, 2, 1, 1, 1, 1, 1, kU8, kU8, 0, 0,
                      Activation::kClip, true},
        // Channels not a multiple of 16: the scalar tail; fewer than 16: only the tail.
        DepthwiseCase{"odd_channels", 2, 37, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, kU8, kU8, 3, 100,
                      Activation::kRelu, true},
        DepthwiseCase{"few_channels", 1, 5, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, kU8, kU8, 0, 0,
                      Activation::kNone, true},
        // Zero points on both sides, read outside the input; s8 source and result.
        DepthwiseCase{"zero_points", 2, 32, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, kU8, kU8, 131, 77,
                      Activation::kNone, true},
        DepthwiseCase{"signed", 1, 16, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, kS8, kS8, -20, 5,
                      Activation::kLeakyRelu, true},
        DepthwiseCase{"signed_source_unsigned_result", 1, 16, 9, 9, 3, 3, 2, 1, 0, 0, 1, 1, kS8,
                      kU8, 0, 128, Activation::kHardSwish, true},
        // 5x5 (specialised), 3x5 and 7x7 (general body), dilations, uneven pads, stride 3.
        DepthwiseCase{"five_by_five", 1, 32, 11, 10, 5, 5, 1, 1, 2, 2, 2, 2, kU8, kU8, 10, 0,
                      Activation::kRelu, true},
        DepthwiseCase{"three_by_five", 1, 16, 8, 12, 3, 5, 1, 1, 1, 2, 1, 2, kU8, kS8, 0, -3,
                      Activation::kNone, true},
        DepthwiseCase{"seven_by_seven_stride3", 2, 24, 15, 16, 7, 7, 3, 1, 3, 3, 0, 1, kU8, kU8, 90,
                      0, Activation::kClip, true},
        // Blocks of 32 channels then one of 16 (stride 2, s8 result, HardSwish).
        DepthwiseCase{"wide", 2, 80, 9, 11, 3, 3, 2, 1, 1, 1, 1, 1, kU8, kS8, 17, -3,
                      Activation::kHardSwish, true},
        DepthwiseCase{"dilated", 1, 32, 10, 10, 3, 3, 1, 2, 2, 2, 2, 2, kU8, kU8, 0, 0,
                      Activation::kNone, true},
        DepthwiseCase{"unpadded", 3, 16, 5, 6, 3, 3, 1, 1, 0, 0, 0, 0, kU8, kU8, 50, 0,
                      Activation::kNone, true},
        // A kernel as large as the input: no column has its whole window inside.
        DepthwiseCase{"kernel_covers_input", 1, 16, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, kU8, kU8, 7, 0,
                      Activation::kNone, true},
        // A plain NCHW source (from a QuantizeLinear) is made channels-last first.
        DepthwiseCase{"plain_source", 2, 20, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, kU8, kU8, 128, 0,
                      Activation::kClip, false}),
    [](const ::testing::TestParamInfo<DepthwiseCase>& info) { return info.param.name; });

}  // namespace
}  // namespace octet::cpu
