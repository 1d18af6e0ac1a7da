// The int8 convolution (QDQ lowered to ai.octet.Int8Conv) against the float simulation of the
// same QDQ graph: every output within one quantization step, over conv shapes that exercise
// oneDNN's different kernels.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "absl/strings/match.h"
#include "engine/base/status_matchers.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/runtime/cpu/cpu_features.h"
#include "engine/runtime/cpu/int8_depthwise_conv.h"
#include "engine/runtime/cpu/int8_gemm.h"
#include "engine/runtime/cpu/int8_winograd.h"
#include "engine/runtime/session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/onnx_model_builder.h"
#include "tests/testing/within_one_step.h"

namespace octet {
namespace {

using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::SetAttribute;

struct ConvCase {
  std::string name;
  int64_t batch, in_channels, out_channels, size, kernel, stride, pad, group;
  bool per_channel;
  DataType x_type, y_type;
  int x_zero, y_zero;
  std::string activation;  // "", Relu, Clip, HardSwish
  bool bias;
  // Largest weight magnitude: 127 for 8-bit weights; 63 keeps u8 x s8 pair sums within 16 bits,
  // which CPUs without VNNI need for oneDNN to compute exactly.
  int max_weight = 127;
};

std::ostream& operator<<(std::ostream& os, const ConvCase& c) { return os << c.name; }

// Q(x) -> DQ -> Conv(DQ(w_q)[, DQ(b_q)]) [-> activation] -> Q -> DQ -> "y": the input and output
// stay float so that both sessions take and give the same tensors.
std::string QdqConvModel(const ConvCase& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> weight(-c.max_weight, c.max_weight);
  std::uniform_real_distribution<float> unit(0.5f, 1.5f);
  OnnxModelBuilder b;
  b.Input("x", {-1, c.in_channels, c.size, c.size}).Output("y", {});
  const int32_t onnx_x =
      c.x_type == DataType::kUint8 ? onnx::TensorProto::UINT8 : onnx::TensorProto::INT8;
  auto zero_tensor = [](DataType type, int zero) {
    return type == DataType::kUint8 ? Tensor::FromVector<uint8_t>({}, {static_cast<uint8_t>(zero)})
                                    : Tensor::FromVector<int8_t>({}, {static_cast<int8_t>(zero)});
  };
  (void)onnx_x;
  b.Initializer("x_scale", Tensor::FromVector<float>({}, {0.02f}));
  b.Initializer("x_zero", zero_tensor(c.x_type, c.x_zero));
  const int64_t per_group = c.in_channels / c.group;
  std::vector<int8_t> w(c.out_channels * per_group * c.kernel * c.kernel);
  for (int8_t& v : w) v = static_cast<int8_t>(weight(rng));
  b.Initializer("w_q",
                Tensor::FromVector<int8_t>({c.out_channels, per_group, c.kernel, c.kernel}, w));
  std::vector<float> w_scales(c.per_channel ? c.out_channels : 1);
  for (float& s : w_scales) s = 0.004f * unit(rng);
  b.Initializer("w_scale", c.per_channel ? Tensor::FromVector<float>({c.out_channels}, w_scales)
                                         : Tensor::FromVector<float>({}, w_scales));
  b.Initializer("y_scale", Tensor::FromVector<float>({}, {0.05f}));
  b.Initializer("y_zero", zero_tensor(c.y_type, c.y_zero));
  b.Node("QuantizeLinear", {"x", "x_scale", "x_zero"}, {"x_q"});
  b.Node("DequantizeLinear", {"x_q", "x_scale", "x_zero"}, {"x_dq"});
  SetAttribute(b.Node("DequantizeLinear", {"w_q", "w_scale"}, {"w"}), "axis", int64_t{0});
  std::vector<std::string> conv_inputs = {"x_dq", "w"};
  if (c.bias) {
    std::vector<int32_t> bias(c.out_channels);
    std::vector<float> bias_scales(c.out_channels);
    for (int64_t o = 0; o < c.out_channels; ++o) {
      bias[o] = static_cast<int32_t>(rng() % 2001) - 1000;
      bias_scales[o] = 0.02f * w_scales[c.per_channel ? o : 0];
    }
    b.Initializer("b_q", Tensor::FromVector<int32_t>({c.out_channels}, bias));
    b.Initializer("b_scale", Tensor::FromVector<float>({c.out_channels}, bias_scales));
    SetAttribute(b.Node("DequantizeLinear", {"b_q", "b_scale"}, {"b"}), "axis", int64_t{0});
    conv_inputs.push_back("b");
  }
  onnx::NodeProto& conv = b.Node("Conv", conv_inputs, {"conv"});
  SetAttribute(conv, "strides", std::vector<int64_t>{c.stride, c.stride});
  SetAttribute(conv, "pads", std::vector<int64_t>{c.pad, c.pad, c.pad, c.pad});
  SetAttribute(conv, "group", c.group);
  std::string before_q = "conv";
  if (c.activation == "Clip") {
    b.Initializer("lo", Tensor::FromVector<float>({}, {0.0f}));
    b.Initializer("hi", Tensor::FromVector<float>({}, {6.0f}));
    b.Node("Clip", {"conv", "lo", "hi"}, {"act"});
    before_q = "act";
  } else if (!c.activation.empty()) {
    b.Node(c.activation, {"conv"}, {"act"});
    before_q = "act";
  }
  b.Node("QuantizeLinear", {before_q, "y_scale", "y_zero"}, {"y_q"});
  b.Node("DequantizeLinear", {"y_q", "y_scale", "y_zero"}, {"y"});
  return b.Serialize();
}

class Int8ConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Int8ConvTest, MatchesTheFloatSimulationWithinOneStep) {
  const ConvCase& c = GetParam();
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(QdqConvModel(c, 11)));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> reference,
                             ::octet::testing::SimulatedSession(graph));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> int8, Session::Create(graph, {}));
  // Lowered wherever oneDNN is exact on this CPU; otherwise left simulated, saying why.
  ASSERT_EQ(int8->int8_nodes().size() + int8->simulated_nodes().size(), 1u);
  if (int8->int8_nodes().empty()) {
    EXPECT_THAT(int8->simulated_nodes()[0], ::testing::HasSubstr("no VNNI"));
    EXPECT_TRUE(c.max_weight > 64 || c.x_type == DataType::kInt8) << "should have been lowered";
  }
  std::mt19937 rng(5);
  // Inputs spanning the quantized range, so that saturation and zero points are exercised.
  std::uniform_real_distribution<float> value(-3.0f, 3.0f);
  std::vector<float> x(c.batch * c.in_channels * c.size * c.size);
  for (float& v : x) v = value(rng);
  const Tensor input = Tensor::FromVector<float>({c.batch, c.in_channels, c.size, c.size}, x);
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> expected, reference->Run({{"x", input}}));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, int8->Run({{"x", input}}));
  // The session says which kernel ran the convolution, with its zero points.
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<StepDescription> steps, int8->Describe({{"x", input}}));
  const auto conv = std::find_if(steps.begin(), steps.end(), [](const StepDescription& d) {
    return d.op_type == "Int8Conv" || d.op_type == "Conv";
  });
  ASSERT_NE(conv, steps.end());
  EXPECT_NE(conv->implementation, "octet:cpu");
  // Depthwise convolutions run on Octet's own kernel where it is available, exact for 8-bit
  // weights and s8 sources too: always lowered.
  if (c.group == c.in_channels && c.out_channels == c.in_channels &&
      cpu::Int8DepthwiseConvAvailable()) {
    EXPECT_EQ(int8->int8_nodes().size(), 1u);
    EXPECT_THAT(conv->implementation, ::testing::StartsWith("octet:avx2"));
    EXPECT_THAT(conv->notes, ::testing::StartsWith("depthwise"));
  }
  // Convolutions of one group with an activation in output units run in int8 on every CPU with
  // AVX2: oneDNN's kernels with VNNI or 7-bit weights, Octet's VPMADDWD product otherwise (the
  // plain product for 1x1 ones, Winograd's F(2x2, 3x3) for 3x3 ones of stride 1 from 32 channels,
  // receptive fields read in place for the rest).
  const bool pointwise = c.kernel == 1 && c.stride == 1 && c.pad == 0 && c.group == 1;
  const bool winograd = c.kernel == 3 && c.stride == 1 && c.group == 1 && c.in_channels >= 32 &&
                        c.out_channels >= 32 && c.in_channels <= cpu::kInt8WinogradMaxChannels;
  if (c.group == 1 && c.activation != "HardSwish" && cpu::Cpu().avx2) {
    EXPECT_EQ(int8->int8_nodes().size(), 1u)
        << (int8->simulated_nodes().empty() ? "" : int8->simulated_nodes()[0]);
    if (c.max_weight > 64 && !cpu::Cpu().vnni) {
      EXPECT_EQ(conv->implementation, pointwise  ? "octet:int8 gemm avx2 (vpmaddwd)"
                                      : winograd ? "octet:int8 winograd F(2x2,3x3) avx2 (vpmaddwd)"
                                                 : "octet:int8 conv avx2 (vpmaddwd)");
      EXPECT_THAT(conv->notes, ::testing::HasSubstr("VPMADDWD"));
    }
    // With 7-bit weights too, the Winograd kernel where it is faster than oneDNN's (128 channels
    // and more, even outputs of 14 x 14 or more).
    const int64_t out = (c.size + 2 * c.pad - c.kernel) / c.stride + 1;
    if (cpu::Int8GemmAvailable() && winograd && c.in_channels >= 128 && c.out_channels >= 128 &&
        out % 2 == 0 && out >= 14) {
      EXPECT_EQ(conv->implementation, "octet:int8 winograd F(2x2,3x3) avx2 (vpmaddwd)");
    }
  }
  if (conv->op_type == "Int8Conv") {
    EXPECT_THAT(conv->notes, ::testing::HasSubstr(absl::StrCat("source zero point ", c.x_zero)));
    EXPECT_EQ(conv->outputs[0].type, c.y_type);
    // A source zero point never reaches oneDNN: padded sources are padded with it first; it
    // joins the bias, or Octet's product subtracts it in its int32 sums.
    if (c.x_zero != 0) {
      if (c.pad > 0) {
        EXPECT_THAT(conv->notes, ::testing::HasSubstr("padded with the zero point"));
      } else {
        EXPECT_THAT(conv->notes, ::testing::AnyOf(::testing::HasSubstr("folded into the bias"),
                                                  ::testing::HasSubstr("subtracted in the int32")));
      }
    }
  }
  const int off_by_one = ::octet::testing::CountOneStepDifferences(expected[0], actual[0], 0.05f);
  ASSERT_GE(off_by_one, 0);
  // Ties of float rounding may differ; most elements are exact.
  EXPECT_LT(off_by_one, expected[0].element_count() / 50 + 1);
}

// A plain int8 convolution of the QDQ model's own constants: x quantized as its QuantizeLinear
// does, int32 sums of (x_q - z_x) * w_q plus the int32 bias, the result in real units through
// the activation, quantized as the output's QuantizeLinear does. Returns the dequantized output.
Tensor PlainInt8Conv(const Graph& graph, const ConvCase& c, const Tensor& x) {
  const float x_scale = graph.FindConstant("x_scale")->data<float>()[0];
  const float y_scale = graph.FindConstant("y_scale")->data<float>()[0];
  const Tensor& w_q = *graph.FindConstant("w_q");
  const Tensor& w_scale = *graph.FindConstant("w_scale");
  const Tensor* b_q = c.bias ? graph.FindConstant("b_q") : nullptr;
  const int64_t per_group_in = c.in_channels / c.group, per_group_out = c.out_channels / c.group;
  const int64_t out = (c.size + 2 * c.pad - c.kernel) / c.stride + 1;
  const bool unsigned_x = c.x_type == DataType::kUint8, unsigned_y = c.y_type == DataType::kUint8;
  auto quantize = [](float v, float scale, int zero, bool is_unsigned) {
    const float q = std::nearbyint(v / scale) + static_cast<float>(zero);
    return static_cast<int32_t>(
        std::clamp(q, is_unsigned ? 0.0f : -128.0f, is_unsigned ? 255.0f : 127.0f));
  };
  std::vector<float> y(c.batch * c.out_channels * out * out);
  for (int64_t n = 0; n < c.batch; ++n) {
    for (int64_t o = 0; o < c.out_channels; ++o) {
      const int64_t g = o / per_group_out;
      const float s_w = w_scale.data<float>()[w_scale.element_count() == 1 ? 0 : o];
      for (int64_t oh = 0; oh < out; ++oh) {
        for (int64_t ow = 0; ow < out; ++ow) {
          int64_t acc = b_q != nullptr ? b_q->data<int32_t>()[o] : 0;
          for (int64_t i = 0; i < per_group_in; ++i) {
            const int64_t channel = g * per_group_in + i;
            for (int64_t kh = 0; kh < c.kernel; ++kh) {
              for (int64_t kw = 0; kw < c.kernel; ++kw) {
                const int64_t ih = oh * c.stride - c.pad + kh, iw = ow * c.stride - c.pad + kw;
                if (ih < 0 || ih >= c.size || iw < 0 || iw >= c.size) continue;  // real 0
                const float v =
                    x.data<float>()[((n * c.in_channels + channel) * c.size + ih) * c.size + iw];
                const int32_t x_q = quantize(v, x_scale, c.x_zero, unsigned_x);
                const int32_t w =
                    w_q.data<int8_t>()[((o * per_group_in + i) * c.kernel + kh) * c.kernel + kw];
                acc += static_cast<int64_t>(x_q - c.x_zero) * w;
              }
            }
          }
          double real = static_cast<double>(acc) * x_scale * s_w;
          if (c.activation == "Relu") real = std::max(real, 0.0);
          if (c.activation == "Clip") real = std::clamp(real, 0.0, 6.0);
          if (c.activation == "HardSwish") real *= std::clamp(real / 6.0 + 0.5, 0.0, 1.0);
          const int32_t q = quantize(static_cast<float>(real), y_scale, c.y_zero, unsigned_y);
          y[((n * c.out_channels + o) * out + oh) * out + ow] =
              static_cast<float>(q - c.y_zero) * y_scale;
        }
      }
    }
  }
  return Tensor::FromVector<float>({c.batch, c.out_channels, out, out}, y);
}

// A convolution whose outputs sum more products than Octet's AVX2 product takes (3x3 over 7,300
// channels: 65,700) stays simulated where oneDNN cannot run its 8-bit weights, saying why, and the
// session still computes it.
TEST(Int8ConvLimitsTest, KeepsInFloatWhatTheProductCannotSum) {
  if (!cpu::Int8GemmAvailable()) {
    GTEST_SKIP() << "this CPU runs 8-bit convolutions on oneDNN (" << cpu::Cpu().Describe()
                 << "); int8_conv_test_avx2 runs this";
  }
  ConvCase c{"long_k",         1,   7300, 2,  3,    3, 1, 0, 1, true, DataType::kUint8,
             DataType::kUint8, 128, 0,    "", false};
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(QdqConvModel(c, 17)));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> int8, Session::Create(graph, {}));
  EXPECT_THAT(int8->int8_nodes(), ::testing::IsEmpty());
  ASSERT_EQ(int8->simulated_nodes().size(), 1u);
  EXPECT_THAT(int8->simulated_nodes()[0], ::testing::HasSubstr("sums at most 65536 products"));
  const Tensor input =
      Tensor::FromVector<float>({1, 7300, 3, 3}, std::vector<float>(7300 * 9, 0.5f));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, int8->Run({{"x", input}}));
  EXPECT_EQ(actual[0].element_count(), 2);
}

// Random convolution shapes (strides, pads, groups, depthwise, 1x1, odd sizes, zero points, u8
// and s8, activations), lowered wherever the CPU computes them exactly, against the plain int8
// convolution above: every output within one quantization step.
TEST(Int8ConvRandomShapesTest, MatchThePlainInt8Convolution) {
  std::mt19937 rng(2024);
  auto pick = [&](int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng); };
  const char* activations[] = {"", "Relu", "Clip", "HardSwish"};
  int lowered = 0;
  for (int trial = 0; trial < 24; ++trial) {
    ConvCase c;
    c.name = absl::StrCat("random_", trial);
    c.batch = pick(1, 2);
    const int shape = pick(0, 3);  // dense, grouped, depthwise, pointwise
    c.kernel = shape == 3 ? 1 : pick(1, 2) * 2 + 1;
    c.group = shape == 1 ? pick(2, 3) : 1;
    c.in_channels = c.group * pick(1, 6);
    if (shape == 2) c.group = c.in_channels = pick(3, 20);
    c.out_channels = shape == 2 ? c.in_channels : c.group * pick(1, 6);
    c.stride = pick(1, 3);
    c.pad = pick(0, (c.kernel - 1) / 2 + (shape == 3 ? 0 : 1));
    c.size = pick(c.kernel, 11);
    c.per_channel = pick(0, 1) == 1;
    c.x_type = pick(0, 3) == 0 ? DataType::kInt8 : DataType::kUint8;
    c.y_type = pick(0, 3) == 0 ? DataType::kInt8 : DataType::kUint8;
    c.x_zero = pick(0, 1) == 0 ? 0 : (c.x_type == DataType::kUint8 ? pick(1, 255) : pick(-60, 60));
    c.y_zero = c.y_type == DataType::kUint8 ? pick(0, 140) : pick(-20, 20);
    c.activation = activations[pick(0, 3)];
    c.bias = pick(0, 1) == 1;
    // 7-bit weights (exact on oneDNN's AVX2 kernels too) or full 8-bit ones.
    c.max_weight = pick(0, 1) == 0 ? 63 : 127;
    SCOPED_TRACE(::testing::Message()
                 << c.name << ": " << c.in_channels << "->" << c.out_channels << " k" << c.kernel
                 << " s" << c.stride << " p" << c.pad << " g" << c.group << " size " << c.size
                 << " zx " << c.x_zero << " zy " << c.y_zero << " " << c.activation << " w"
                 << c.max_weight);
    OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(QdqConvModel(c, 100 + trial)));
    OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> int8, Session::Create(graph, {}));
    lowered += static_cast<int>(int8->int8_nodes().size());
    std::uniform_real_distribution<float> value(-3.0f, 3.0f);
    std::vector<float> x(c.batch * c.in_channels * c.size * c.size);
    for (float& v : x) v = value(rng);
    const Tensor input = Tensor::FromVector<float>({c.batch, c.in_channels, c.size, c.size}, x);
    OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, int8->Run({{"x", input}}));
    const Tensor expected = PlainInt8Conv(graph, c, input);
    const int off_by_one = ::octet::testing::CountOneStepDifferences(expected, actual[0], 0.05f);
    ASSERT_GE(off_by_one, 0);
    EXPECT_LT(off_by_one, expected.element_count() / 50 + 1);
  }
  // Most of them run in int8 on any CPU (7-bit weights, depthwise on Octet's kernel without VNNI).
  EXPECT_GE(lowered, 10);
}

// DQ(w_q) -> Conv(from, 3x3, padded by 1) -> `to`, with random weights within 7 bits (so that
// every CPU runs it in int8) at scale 0.002 per channel.
void AddQdqConv3x3(OnnxModelBuilder& b, std::mt19937& rng, const std::string& from,
                   const std::string& to, int64_t in, int64_t out, int64_t group = 1,
                   int max_weight = 63) {
  std::uniform_int_distribution<int> weight(-max_weight, max_weight);
  std::vector<int8_t> w(out * in / group * 9);
  for (int8_t& v : w) v = static_cast<int8_t>(weight(rng));
  b.Initializer(to + "_w_q", Tensor::FromVector<int8_t>({out, in / group, 3, 3}, w));
  b.Initializer(to + "_w_scale", Tensor::FromVector<float>({out}, std::vector<float>(out, 0.002f)));
  SetAttribute(b.Node("DequantizeLinear", {to + "_w_q", to + "_w_scale"}, {to + "_w"}), "axis",
               int64_t{0});
  onnx::NodeProto& conv = b.Node("Conv", {from, to + "_w"}, {to});
  SetAttribute(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
  SetAttribute(conv, "group", group);
}

// x -> Q -> DQ -> Conv(8->16, 3x3) -> Relu -> Q -> DQ -> Conv(16->16, 3x3) -> Q -> DQ
//   -> Add(the first conv's DQ) -> Relu -> Q -> DQ -> MaxPool(2x2) -> Q -> DQ -> "y",
// weights within 7 bits so that every CPU runs it in int8.
std::string QdqConvChainModel() {
  std::mt19937 rng(3);
  OnnxModelBuilder b;
  b.Input("x", {-1, 8, 10, 10}).Output("y", {});
  auto scalar = [&](const std::string& name, float value) {
    b.Initializer(name, Tensor::FromVector<float>({}, {value}));
  };
  auto zero = [&](const std::string& name, int value) {
    b.Initializer(name, Tensor::FromVector<uint8_t>({}, {static_cast<uint8_t>(value)}));
  };
  auto quantize = [&](const std::string& from, const std::string& to, const std::string& params) {
    b.Node("QuantizeLinear", {from, params + "_scale", params + "_zero"}, {to + "_q"});
    b.Node("DequantizeLinear", {to + "_q", params + "_scale", params + "_zero"}, {to});
  };
  scalar("x_scale", 0.02f);
  zero("x_zero", 128);
  scalar("a_scale", 0.03f);
  zero("a_zero", 0);
  scalar("c_scale", 0.04f);
  zero("c_zero", 120);
  scalar("s_scale", 0.05f);
  zero("s_zero", 0);
  quantize("x", "x_dq", "x");
  AddQdqConv3x3(b, rng, "x_dq", "conv1", 8, 16);
  b.Node("Relu", {"conv1"}, {"relu1"});
  quantize("relu1", "a", "a");
  AddQdqConv3x3(b, rng, "a", "conv2", 16, 16);
  quantize("conv2", "c", "c");
  b.Node("Add", {"c", "a"}, {"sum"});
  b.Node("Relu", {"sum"}, {"relu2"});
  quantize("relu2", "s", "s");
  onnx::NodeProto& pool = b.Node("MaxPool", {"s"}, {"pooled"});
  ::octet::testing::SetAttribute(pool, "kernel_shape", std::vector<int64_t>{2, 2});
  ::octet::testing::SetAttribute(pool, "strides", std::vector<int64_t>{2, 2});
  quantize("pooled", "y", "s");
  return b.Serialize();
}

// Consecutive int8 ops hand their tensors over in the convolution's channels-last layout: no
// reorder between them, one back to plain where float begins, results as the simulation's.
TEST(Int8ConvChainTest, HandsChannelsLastTensorsOnWithoutReorders) {
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(QdqConvChainModel()));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> reference,
                             ::octet::testing::SimulatedSession(graph));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> int8, Session::Create(graph, {}));
  EXPECT_EQ(int8->int8_nodes().size(), 4u);
  EXPECT_THAT(int8->simulated_nodes(), ::testing::IsEmpty());
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> value(-2.5f, 2.5f);
  std::vector<float> x(2 * 8 * 10 * 10);
  for (float& v : x) v = value(rng);
  const Tensor input = Tensor::FromVector<float>({2, 8, 10, 10}, x);
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<StepDescription> steps, int8->Describe({{"x", input}}));
  std::vector<std::string> int8_steps;
  for (const StepDescription& step : steps) {
    if (!absl::StartsWith(step.op_type, "Int8")) continue;
    // Only the first convolution reorders: its input comes plain from QuantizeLinear.
    EXPECT_THAT(
        step.implementation,
        ::testing::Not(::testing::HasSubstr(int8_steps.empty() ? "output reorder" : "reorder")))
        << step.nodes;
    int8_steps.push_back(step.op_type);
    // Every int8 result is channels-last; the plan makes the pooled one plain for the float
    // DequantizeLinear, once.
    EXPECT_TRUE(step.outputs[0].channels_last) << step.nodes;
  }
  EXPECT_THAT(int8_steps, ::testing::ElementsAre("Int8Conv", "Int8Conv", "Int8Add", "Int8MaxPool"));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> expected, reference->Run({{"x", input}}));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, int8->Run({{"x", input}}));
  const int off_by_one = ::octet::testing::CountOneStepDifferences(expected[0], actual[0], 0.05f);
  ASSERT_GE(off_by_one, 0);
  EXPECT_LT(off_by_one, expected[0].element_count() / 50 + 1);
}

struct ResidualCase {
  std::string name;
  int a_zero, c_zero, s_zero;  // the residual's, the last convolution's, the sum's zero points
  bool relu;                   // Relu after the Add
  bool residual_first;         // Add(a, c) rather than Add(c, a)
  // The Add reads the convolution's result with a scale other than the one it was written with
  // (possible in QDQ models made elsewhere): then the Add cannot be fused.
  bool reread_with_other_scale = false;
  // The last convolution is depthwise, whose kernel (Octet's, on CPUs without VNNI) adds no
  // residual: the Add then runs on its own.
  bool depthwise_last = false;
  // 8-bit weights (Octet's kernels on CPUs without VNNI, which fuse the Add as well) and the
  // block's channels (from 32, Octet's Winograd kernel there).
  bool eight_bit = false;
  int64_t width = 16;
};

std::ostream& operator<<(std::ostream& os, const ResidualCase& c) { return os << c.name; }

// A ResNet basic block: x -> Q -> DQ -> Conv(8->16) -> Relu -> Q -> DQ = a; a -> Conv(16->16) ->
// Relu -> Q -> DQ -> Conv(16->16) -> Q -> DQ = c; Add(c, a) [-> Relu] -> Q -> DQ -> "y"; 3x3
// convolutions padded by 1, weights within 7 bits so that every CPU runs them in int8.
std::string QdqResidualBlockModel(const ResidualCase& c) {
  std::mt19937 rng(5);
  OnnxModelBuilder b;
  b.Input("x", {-1, 8, 9, 9}).Output("y", {});
  auto params = [&](const std::string& name, float scale, int zero) {
    b.Initializer(name + "_scale", Tensor::FromVector<float>({}, {scale}));
    b.Initializer(name + "_zero", Tensor::FromVector<uint8_t>({}, {static_cast<uint8_t>(zero)}));
  };
  auto quantize = [&](const std::string& from, const std::string& to, const std::string& q,
                      const std::string& dq) {
    b.Node("QuantizeLinear", {from, q + "_scale", q + "_zero"}, {to + "_q"});
    b.Node("DequantizeLinear", {to + "_q", dq + "_scale", dq + "_zero"}, {to});
  };
  params("x", 0.02f, 128);
  params("a", 0.03f, c.a_zero);
  params("b", 0.025f, 0);
  params("c", 0.04f, c.c_zero);
  params("c_reread", 0.045f, c.c_zero);
  params("s", 0.05f, c.s_zero);
  quantize("x", "x_dq", "x", "x");
  const int max_weight = c.eight_bit ? 127 : 63;
  const int64_t w = c.width;
  AddQdqConv3x3(b, rng, "x_dq", "conv1", 8, w, 1, max_weight);
  b.Node("Relu", {"conv1"}, {"relu1"});
  quantize("relu1", "a", "a", "a");
  AddQdqConv3x3(b, rng, "a", "conv2", w, w, 1, max_weight);
  b.Node("Relu", {"conv2"}, {"relu2"});
  quantize("relu2", "b", "b", "b");
  AddQdqConv3x3(b, rng, "b", "conv3", w, w, c.depthwise_last ? w : 1, max_weight);
  quantize("conv3", "c", "c", c.reread_with_other_scale ? "c_reread" : "c");
  b.Node("Add",
         c.residual_first ? std::vector<std::string>{"a", "c"} : std::vector<std::string>{"c", "a"},
         {"sum"});
  std::string before_q = "sum";
  if (c.relu) {
    b.Node("Relu", {"sum"}, {"relu3"});
    before_q = "relu3";
  }
  quantize(before_q, "y", "s", "s");
  return b.Serialize();
}

class Int8ResidualTest : public ::testing::TestWithParam<ResidualCase> {};

// The residual Add becomes the last convolution's sum post-op, written over the residual's buffer
// (which dies there), with the convolution's own rounding kept: the results are the simulation's.
TEST_P(Int8ResidualTest, FusesTheAddIntoTheConvolutionAsTheSimulationComputesIt) {
  const ResidualCase& c = GetParam();
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(QdqResidualBlockModel(c)));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> reference,
                             ::octet::testing::SimulatedSession(graph));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> int8, Session::Create(graph, {}));
  EXPECT_EQ(int8->int8_nodes().size(), 4u);
  EXPECT_THAT(int8->simulated_nodes(), ::testing::IsEmpty());
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> value(-2.5f, 2.5f);
  for (const int64_t batch : {1, 3}) {
    std::vector<float> x(batch * 8 * 9 * 9);
    for (float& v : x) v = value(rng);
    const Tensor input = Tensor::FromVector<float>({batch, 8, 9, 9}, x);
    OCTET_ASSERT_OK_AND_ASSIGN(std::vector<StepDescription> steps, int8->Describe({{"x", input}}));
    std::vector<std::string> int8_steps;
    for (const StepDescription& step : steps) {
      if (!absl::StartsWith(step.op_type, "Int8")) continue;
      int8_steps.push_back(step.op_type);
      const bool fused = absl::StrContains(step.notes, "residual Int8Add fused");
      EXPECT_EQ(fused, absl::StrContains(step.nodes, "+")) << step.nodes;
      if (fused) {  // a vectorized oneDNN kernel (jit_uni_int8, brgconv), not a reference one
        EXPECT_THAT(step.implementation, ::testing::Not(::testing::HasSubstr("ref")));
        // Or, with 8-bit weights and without VNNI, Octet's exact kernels.
        if (c.eight_bit && cpu::Int8GemmAvailable()) {
          EXPECT_THAT(
              step.implementation,
              ::testing::StartsWith(c.width >= 32 ? "octet:int8 winograd" : "octet:int8 conv"));
        }
      }
    }
    if (c.reread_with_other_scale || (c.depthwise_last && cpu::Int8DepthwiseConvAvailable())) {
      EXPECT_THAT(int8_steps,
                  ::testing::ElementsAre("Int8Conv", "Int8Conv", "Int8Conv", "Int8Add"));
    } else {
      EXPECT_THAT(int8_steps, ::testing::ElementsAre("Int8Conv", "Int8Conv", "Int8Conv"));
    }
    OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> expected, reference->Run({{"x", input}}));
    OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, int8->Run({{"x", input}}));
    const int off_by_one = ::octet::testing::CountOneStepDifferences(expected[0], actual[0], 0.05f);
    ASSERT_GE(off_by_one, 0) << "batch " << batch;
    EXPECT_LT(off_by_one, expected[0].element_count() / 50 + 1) << "batch " << batch;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Blocks, Int8ResidualTest,
    ::testing::Values(ResidualCase{"resnet", 0, 120, 0, true, false},
                      ResidualCase{"zero_points_no_relu", 30, 100, 128, false, false},
                      ResidualCase{"residual_first", 0, 7, 3, true, true},
                      ResidualCase{"reread_with_other_scale", 0, 120, 0, true, false, true},
                      ResidualCase{"depthwise_last", 0, 120, 0, true, false, false, true},
                      ResidualCase{"eight_bit", 0, 120, 0, true, false, false, false, true},
                      ResidualCase{"eight_bit_wide_zero_points", 30, 100, 128, false, true, false,
                                   false, true, 32}),
    [](const ::testing::TestParamInfo<ResidualCase>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Shapes, Int8ConvTest,
    ::testing::Values(ConvCase{"plain3x3", 2, 8, 16, 9, 3, 1, 1, 1, true, DataType::kUint8,
                               DataType::kUint8, 128, 0, "Relu", true},
                      ConvCase{"strided_odd", 1, 3, 8, 11, 3, 2, 0, 1, true, DataType::kUint8,
                               DataType::kUint8, 100, 7, "", true},
                      ConvCase{"pointwise", 3, 16, 32, 7, 1, 1, 0, 1, true, DataType::kUint8,
                               DataType::kUint8, 0, 0, "Relu", false},
                      ConvCase{"pointwise_signed_zero_points_clip", 2, 24, 20, 5, 1, 1, 0, 1, true,
                               DataType::kInt8, DataType::kInt8, 17, -3, "Clip", true},
                      ConvCase{"depthwise", 2, 16, 16, 8, 3, 1, 1, 16, true, DataType::kUint8,
                               DataType::kUint8, 0, 0, "Clip", true},
                      ConvCase{"grouped", 1, 8, 12, 6, 3, 1, 1, 4, false, DataType::kUint8,
                               DataType::kUint8, 30, 0, "", true},
                      ConvCase{"per_tensor_no_zero_points", 2, 4, 4, 5, 3, 1, 1, 1, false,
                               DataType::kUint8, DataType::kUint8, 0, 0, "", false},
                      ConvCase{"signed_in_out", 1, 8, 8, 6, 3, 1, 1, 1, true, DataType::kInt8,
                               DataType::kInt8, 0, 0, "", true},
                      ConvCase{"hardswish", 1, 8, 8, 6, 3, 1, 1, 1, true, DataType::kUint8,
                               DataType::kUint8, 128, 20, "HardSwish", true},
                      ConvCase{"large_kernel", 1, 4, 8, 12, 5, 1, 2, 1, true, DataType::kUint8,
                               DataType::kUint8, 64, 0, "Relu", true},
                      ConvCase{"plain3x3_7bit", 2, 8, 16, 9, 3, 1, 1, 1, true, DataType::kUint8,
                               DataType::kUint8, 128, 0, "Relu", true, 63},
                      ConvCase{"strided_odd_7bit", 1, 3, 8, 11, 3, 2, 0, 1, true, DataType::kUint8,
                               DataType::kUint8, 100, 7, "", true, 63},
                      ConvCase{"hardswish_7bit", 1, 8, 8, 6, 3, 1, 1, 1, true, DataType::kUint8,
                               DataType::kUint8, 128, 20, "HardSwish", true, 63},
                      ConvCase{"large_kernel_7bit", 1, 4, 8, 12, 5, 1, 2, 1, true, DataType::kUint8,
                               DataType::kUint8, 64, 0, "Clip", true, 63},
                      // Padded with a zero point: the kernel pads explicitly, the byte of -20.
                      ConvCase{"signed_zero_point_padded_7bit", 2, 8, 8, 7, 3, 1, 1, 1, true,
                               DataType::kInt8, DataType::kUint8, -20, 9, "", true, 63},
                      ConvCase{"depthwise_zero_point_7bit", 2, 16, 16, 8, 3, 1, 1, 16, true,
                               DataType::kUint8, DataType::kUint8, 100, 0, "Clip", true, 63},
                      ConvCase{"depthwise_signed_zero_points", 2, 16, 16, 9, 3, 1, 1, 16, true,
                               DataType::kInt8, DataType::kInt8, -30, 12, "", true},
                      ConvCase{"depthwise_strided_hardswish", 1, 24, 24, 11, 3, 2, 1, 24, true,
                               DataType::kUint8, DataType::kUint8, 128, 3, "HardSwish", true},
                      ConvCase{"depthwise_5x5_relu", 2, 32, 32, 9, 5, 1, 2, 32, false,
                               DataType::kUint8, DataType::kUint8, 0, 0, "Relu", false},
                      ConvCase{"stem_like_7bit", 2, 3, 16, 15, 7, 2, 3, 1, true, DataType::kUint8,
                               DataType::kUint8, 135, 0, "Relu", true, 63},
                      // 8-bit weights where oneDNN saturates without VNNI (Octet's product of
                      // receptive fields read in place): a stem over the plain image, a strided
                      // 1x1, a signed source padded with its zero point, a wide 3x3 layer.
                      ConvCase{"stem_like", 2, 3, 16, 15, 7, 2, 3, 1, true, DataType::kUint8,
                               DataType::kUint8, 135, 0, "Relu", true},
                      ConvCase{"strided_pointwise", 2, 24, 40, 9, 1, 2, 0, 1, true,
                               DataType::kUint8, DataType::kInt8, 90, -4, "", true},
                      ConvCase{"signed_zero_point_padded", 2, 8, 8, 7, 3, 1, 1, 1, true,
                               DataType::kInt8, DataType::kUint8, -20, 9, "", true},
                      ConvCase{"wide_3x3", 1, 96, 40, 10, 3, 1, 1, 1, true, DataType::kUint8,
                               DataType::kUint8, 3, 0, "Clip", true},
                      // 7-bit weights on a layer where Octet's Winograd kernel is ahead of
                      // oneDNN's without VNNI.
                      ConvCase{"resnet_layer3_7bit", 2, 128, 128, 14, 3, 1, 1, 1, true,
                               DataType::kUint8, DataType::kUint8, 0, 0, "Relu", true, 63}),
    [](const ::testing::TestParamInfo<ConvCase>& info) { return info.param.name; });

}  // namespace
}  // namespace octet
