// Gemm and MatMul between QDQ (lowered to ai.octet.Int8MatMul: oneDNN's int8 matmul with scales
// per output column, the bias and the source zero point's term as one per-column addend) against
// the float simulation of the same QDQ graph: a quantized result within one quantization step, a
// float result (logits) within float rounding of it.
#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/match.h"
#include "engine/base/status_matchers.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/runtime/session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/onnx_model_builder.h"
#include "tests/testing/within_one_step.h"

namespace octet {
namespace {

using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::SetAttribute;

struct MatMulCase {
  std::string name;
  std::string op;  // Gemm or MatMul
  Shape x_shape;   // [..., K]
  int64_t n;
  bool trans_b, per_column, bias, int32_bias;
  int x_zero;
  std::string activation;  // "", Relu, Clip, HardSwish, Sigmoid
  bool quantized_output;   // Q -> DQ after, or the float result
  int y_zero = 0;
  int max_weight = 63;  // within 7 bits: exact on every CPU (127 needs VNNI)
};

std::ostream& operator<<(std::ostream& os, const MatMulCase& c) { return os << c.name; }

std::string QdqMatMulModel(const MatMulCase& c) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> weight(-c.max_weight, c.max_weight);
  std::uniform_real_distribution<float> unit(0.5f, 1.5f);
  const int64_t k = c.x_shape.back();
  OnnxModelBuilder b;
  b.Input("x", std::vector<int64_t>(c.x_shape.begin(), c.x_shape.end())).Output("y", {});
  b.Initializer("x_scale", Tensor::FromVector<float>({}, {0.03f}));
  b.Initializer("x_zero", Tensor::FromVector<uint8_t>({}, {static_cast<uint8_t>(c.x_zero)}));
  std::vector<int8_t> w(k * c.n);
  for (int8_t& v : w) v = static_cast<int8_t>(weight(rng));
  b.Initializer("w_q", c.trans_b ? Tensor::FromVector<int8_t>({c.n, k}, w)
                                 : Tensor::FromVector<int8_t>({k, c.n}, w));
  std::vector<float> w_scales(c.per_column ? c.n : 1);
  for (float& s : w_scales) s = 0.003f * unit(rng);
  b.Initializer("w_scale", c.per_column ? Tensor::FromVector<float>({c.n}, w_scales)
                                        : Tensor::FromVector<float>({}, w_scales));
  b.Initializer("y_scale", Tensor::FromVector<float>({}, {0.08f}));
  b.Initializer("y_zero", Tensor::FromVector<uint8_t>({}, {static_cast<uint8_t>(c.y_zero)}));
  b.Node("QuantizeLinear", {"x", "x_scale", "x_zero"}, {"x_q"});
  b.Node("DequantizeLinear", {"x_q", "x_scale", "x_zero"}, {"x_dq"});
  SetAttribute(b.Node("DequantizeLinear", {"w_q", "w_scale"}, {"w"}), "axis",
               int64_t{c.trans_b ? 0 : 1});
  std::vector<std::string> inputs = {"x_dq", "w"};
  if (c.bias) {
    std::vector<float> real(c.n);
    for (float& v : real) v = unit(rng) - 1.0f;
    if (c.int32_bias) {
      std::vector<int32_t> q(c.n);
      std::vector<float> scales(c.n);
      for (int64_t j = 0; j < c.n; ++j) {
        scales[j] = 0.03f * w_scales[c.per_column ? j : 0];
        q[j] = static_cast<int32_t>(std::lround(real[j] / scales[j]));
      }
      b.Initializer("b_q", Tensor::FromVector<int32_t>({c.n}, q));
      b.Initializer("b_scale", Tensor::FromVector<float>({c.n}, scales));
      SetAttribute(b.Node("DequantizeLinear", {"b_q", "b_scale"}, {"b"}), "axis", int64_t{0});
    } else {
      b.Initializer("b", Tensor::FromVector<float>({c.n}, real));
    }
    inputs.push_back("b");
  }
  onnx::NodeProto& op = b.Node(c.op, inputs, {"mm"});
  if (c.op == "Gemm") SetAttribute(op, "transB", int64_t{c.trans_b ? 1 : 0});
  std::string last = "mm";
  if (c.activation == "Clip") {
    b.Initializer("lo", Tensor::FromVector<float>({}, {0.0f}));
    b.Initializer("hi", Tensor::FromVector<float>({}, {6.0f}));
    b.Node("Clip", {"mm", "lo", "hi"}, {"act"});
    last = "act";
  } else if (!c.activation.empty()) {
    b.Node(c.activation, {"mm"}, {"act"});
    last = "act";
  }
  if (c.quantized_output) {
    b.Node("QuantizeLinear", {last, "y_scale", "y_zero"}, {"y_q"});
    b.Node("DequantizeLinear", {"y_q", "y_scale", "y_zero"}, {"y"});
  } else {
    b.Node("Identity", {last}, {"y"});
  }
  return b.Serialize();
}

class Int8MatMulTest : public ::testing::TestWithParam<MatMulCase> {};

TEST_P(Int8MatMulTest, MatchesTheFloatSimulation) {
  const MatMulCase& c = GetParam();
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(QdqMatMulModel(c)));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> reference,
                             ::octet::testing::SimulatedSession(graph));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> int8, Session::Create(graph, {}));
  ASSERT_EQ(int8->int8_nodes().size() + int8->simulated_nodes().size(), 1u);
  // 8-bit weights run in int8 on every CPU with AVX2 (oneDNN with VNNI, Octet's VPMADDWD kernel
  // without) unless the activation needs real units.
  if (c.max_weight > 64 && c.activation != "HardSwish" && c.activation != "Sigmoid") {
    EXPECT_EQ(int8->int8_nodes().size(), 1u)
        << (int8->simulated_nodes().empty() ? "" : int8->simulated_nodes()[0]);
  }
  if (c.max_weight > 64 && int8->int8_nodes().empty()) {
    EXPECT_THAT(int8->simulated_nodes()[0], ::testing::HasSubstr("no VNNI"));
  } else {
    ASSERT_EQ(int8->int8_nodes().size(), 1u) << int8->simulated_nodes()[0];
    EXPECT_THAT(int8->int8_nodes()[0], ::testing::StartsWith("Int8MatMul"));
  }
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> value(-1.0f, 8.0f);  // past the u8 range on both sides
  int64_t count = 1;
  for (int64_t d : c.x_shape) count *= d;
  std::vector<float> x(count);
  for (float& v : x) v = value(rng);
  const Tensor input = Tensor::FromVector<float>(c.x_shape, x);
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> expected, reference->Run({{"x", input}}));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, int8->Run({{"x", input}}));
  Shape y_shape = c.x_shape;
  y_shape.back() = c.n;
  ASSERT_EQ(actual[0].shape(), y_shape);
  // Lowered, the rows run as the width of a 1x1 int8 convolution (weights packed once).
  if (!int8->int8_nodes().empty()) {
    OCTET_ASSERT_OK_AND_ASSIGN(std::vector<StepDescription> steps, int8->Describe({{"x", input}}));
    const auto step = std::find_if(steps.begin(), steps.end(), [](const StepDescription& d) {
      return d.op_type == "Int8MatMul";
    });
    ASSERT_NE(step, steps.end());
    if (absl::StartsWith(step->implementation, "octet:")) {
      // 8-bit weights on AVX2 without VNNI: Octet's exact kernel.
      EXPECT_GT(c.max_weight, 64);
      EXPECT_THAT(step->notes, ::testing::HasSubstr("VPMADDWD"));
    } else {
      EXPECT_THAT(step->notes, ::testing::HasSubstr("rows as a 1x1 convolution"));
      EXPECT_THAT(step->implementation, ::testing::Not(::testing::HasSubstr("ref")));
    }
  }
  if (c.quantized_output) {
    const int off = ::octet::testing::CountOneStepDifferences(expected[0], actual[0], 0.08f);
    ASSERT_GE(off, 0);
    EXPECT_LT(off, expected[0].element_count() / 50 + 1);
  } else {
    float largest = 0.0f;
    for (int64_t i = 0; i < expected[0].element_count(); ++i) {
      largest = std::max(largest, std::abs(expected[0].data<float>()[i]));
    }
    for (int64_t i = 0; i < expected[0].element_count(); ++i) {
      ASSERT_NEAR(actual[0].data<float>()[i], expected[0].data<float>()[i], 1e-5f * largest) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Int8MatMulTest,
    ::testing::Values(
        // The classifier of a CNN: Gemm(transB) with a bias, float logits.
        MatMulCase{"classifier_logits", "Gemm", {4, 64}, 10, true, true, true, true, 0, "", false},
        MatMulCase{"gemm_zero_point_relu",
                   "Gemm",
                   {3, 40},
                   24,
                   false,
                   true,
                   true,
                   false,
                   113,
                   "Relu",
                   true},
        MatMulCase{"gemm_per_tensor_clip",
                   "Gemm",
                   {2, 33},
                   17,
                   true,
                   false,
                   true,
                   true,
                   7,
                   "Clip",
                   true,
                   11},
        MatMulCase{
            "gemm_no_bias", "Gemm", {5, 16}, 8, false, false, false, false, 128, "", true, 128},
        MatMulCase{
            "matmul_3d", "MatMul", {2, 5, 24}, 12, false, true, false, false, 90, "", true, 100},
        // Activations that need the result in real units before they apply.
        MatMulCase{"gemm_hardswish",
                   "Gemm",
                   {3, 20},
                   9,
                   true,
                   true,
                   true,
                   false,
                   128,
                   "HardSwish",
                   true,
                   60},
        MatMulCase{
            "gemm_sigmoid", "Gemm", {3, 20}, 9, false, true, true, true, 30, "Sigmoid", true, 5},
        MatMulCase{
            "gemm_8bit_weights", "Gemm", {2, 32}, 8, true, true, true, true, 0, "", false, 0, 127},
        // 8-bit weights with every activation Octet's AVX2 kernel applies, and its edges: rows
        // not a multiple of its 4-row tile, odd K, N not a multiple of 16, a zero point.
        MatMulCase{"gemm_8bit_relu_edges",
                   "Gemm",
                   {13, 37},
                   19,
                   false,
                   true,
                   true,
                   false,
                   9,
                   "Relu",
                   true,
                   3,
                   127},
        MatMulCase{"matmul_8bit_clip",
                   "MatMul",
                   {2, 7, 64},
                   33,
                   false,
                   true,
                   false,
                   false,
                   128,
                   "Clip",
                   true,
                   40,
                   127},
        MatMulCase{"gemm_8bit_leaky_relu",
                   "Gemm",
                   {6, 48},
                   16,
                   true,
                   false,
                   true,
                   true,
                   0,
                   "LeakyRelu",
                   true,
                   128,
                   127},
        MatMulCase{"gemm_8bit_single_row_logits",
                   "Gemm",
                   {1, 512},
                   10,
                   true,
                   true,
                   true,
                   true,
                   77,
                   "",
                   false,
                   0,
                   127}),
    [](const ::testing::TestParamInfo<MatMulCase>& info) { return info.param.name; });

}  // namespace
}  // namespace octet
