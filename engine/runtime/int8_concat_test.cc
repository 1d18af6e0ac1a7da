// Concat between QDQ (lowered to ai.octet.Int8Concat: one oneDNN reorder per input into its slice
// of the result, requantizing where parameters differ) against the float simulation of the same
// QDQ graph: every output within one quantization step.
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

struct Operand {
  Shape shape;
  DataType type;
  float scale;
  int zero;
};

struct ConcatCase {
  std::string name;
  std::vector<Operand> inputs;
  int64_t axis;
  DataType y_type;
  float y_scale;
  int y_zero;
  // Each input comes from an int8 convolution (1x1, 7-bit weights), channels-last.
  bool from_convs = false;
};

std::ostream& operator<<(std::ostream& os, const ConcatCase& c) { return os << c.name; }

Tensor Zero(DataType type, int zero) {
  return type == DataType::kUint8 ? Tensor::FromVector<uint8_t>({}, {static_cast<uint8_t>(zero)})
                                  : Tensor::FromVector<int8_t>({}, {static_cast<int8_t>(zero)});
}

std::string QdqConcatModel(const ConcatCase& c) {
  OnnxModelBuilder b;
  std::vector<std::string> parts;
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> weight(-63, 63);
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const Operand& in = c.inputs[i];
    const std::string x = absl::StrCat("x", i), p = absl::StrCat("p", i);
    b.Input(x, std::vector<int64_t>(in.shape.begin(), in.shape.end()));
    b.Initializer(p + "_scale", Tensor::FromVector<float>({}, {in.scale}));
    b.Initializer(p + "_zero", Zero(in.type, in.zero));
    std::string value = x;
    if (c.from_convs) {
      // x -> Q -> DQ -> Conv 1x1 (same channels) -> Q(p) -> DQ
      const int64_t channels = in.shape[1];
      b.Initializer(x + "_in_scale", Tensor::FromVector<float>({}, {0.02f}));
      b.Initializer(x + "_in_zero", Zero(DataType::kUint8, 128));
      b.Node("QuantizeLinear", {x, x + "_in_scale", x + "_in_zero"}, {x + "_in_q"});
      b.Node("DequantizeLinear", {x + "_in_q", x + "_in_scale", x + "_in_zero"}, {x + "_in"});
      std::vector<int8_t> w(channels * channels);
      for (int8_t& v : w) v = static_cast<int8_t>(weight(rng));
      b.Initializer(x + "_w_q", Tensor::FromVector<int8_t>({channels, channels, 1, 1}, w));
      b.Initializer(x + "_w_scale", Tensor::FromVector<float>({}, {0.01f}));
      b.Node("DequantizeLinear", {x + "_w_q", x + "_w_scale"}, {x + "_w"});
      b.Node("Conv", {x + "_in", x + "_w"}, {x + "_conv"});
      value = x + "_conv";
    }
    b.Node("QuantizeLinear", {value, p + "_scale", p + "_zero"}, {p + "_q"});
    b.Node("DequantizeLinear", {p + "_q", p + "_scale", p + "_zero"}, {p});
    parts.push_back(p);
  }
  b.Output("y", {});
  b.Initializer("y_scale", Tensor::FromVector<float>({}, {c.y_scale}));
  b.Initializer("y_zero", Zero(c.y_type, c.y_zero));
  SetAttribute(b.Node("Concat", parts, {"cat"}), "axis", c.axis);
  b.Node("QuantizeLinear", {"cat", "y_scale", "y_zero"}, {"y_q"});
  b.Node("DequantizeLinear", {"y_q", "y_scale", "y_zero"}, {"y"});
  return b.Serialize();
}

class Int8ConcatTest : public ::testing::TestWithParam<ConcatCase> {};

TEST_P(Int8ConcatTest, MatchesTheFloatSimulationWithinOneStep) {
  const ConcatCase& c = GetParam();
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(QdqConcatModel(c)));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> reference,
                             ::octet::testing::SimulatedSession(graph));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> int8, Session::Create(graph, {}));
  EXPECT_THAT(int8->int8_nodes(), ::testing::Contains(::testing::StartsWith("Int8Concat")));
  EXPECT_THAT(int8->simulated_nodes(), ::testing::IsEmpty());
  std::mt19937 rng(6);
  std::uniform_real_distribution<float> value(-4.0f, 4.0f);  // past every input's range
  std::vector<NamedTensor> inputs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    int64_t n = 1;
    for (int64_t d : c.inputs[i].shape) n *= d;
    std::vector<float> v(n);
    for (float& x : v) x = value(rng);
    inputs.emplace_back(absl::StrCat("x", i), Tensor::FromVector<float>(c.inputs[i].shape, v));
  }
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> expected, reference->Run(inputs));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, int8->Run(inputs));
  const int off = ::octet::testing::CountOneStepDifferences(expected[0], actual[0], c.y_scale);
  ASSERT_GE(off, 0);
  EXPECT_LT(off, expected[0].element_count() / 50 + 1);
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<StepDescription> steps, int8->Describe(inputs));
  for (const StepDescription& step : steps) {
    if (step.op_type != "Int8Concat") continue;
    EXPECT_EQ(step.outputs[0].type, c.y_type);
    // The convolutions' channels-last results are concatenated as they are.
    EXPECT_EQ(step.outputs[0].channels_last, c.from_convs);
  }
  if (c.from_convs) {
    // One reorder of int8 data in the plan: the result, to plain for the float DequantizeLinear;
    // none of the convolutions' results before the Concat.
    int int8_reorders = 0;
    for (const StepDescription& step : steps) {
      int8_reorders += step.op_type == "Reorder" && step.inputs[0].type != DataType::kFloat32;
    }
    EXPECT_EQ(int8_reorders, 1);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Concats, Int8ConcatTest,
    ::testing::Values(ConcatCase{"one_scale_copies",
                                 {{{2, 3, 4, 4}, DataType::kUint8, 0.03f, 128},
                                  {{2, 5, 4, 4}, DataType::kUint8, 0.03f, 128}},
                                 1,
                                 DataType::kUint8,
                                 0.03f,
                                 128},
                      ConcatCase{"requantized_channels",
                                 {{{2, 3, 4, 4}, DataType::kUint8, 0.021f, 100},
                                  {{2, 5, 4, 4}, DataType::kUint8, 0.037f, 0},
                                  {{2, 2, 4, 4}, DataType::kInt8, 0.029f, -3}},
                                 1,
                                 DataType::kUint8,
                                 0.033f,
                                 120},
                      ConcatCase{"last_axis_3d",
                                 {{{2, 3, 5}, DataType::kUint8, 0.021f, 100},
                                  {{2, 3, 7}, DataType::kUint8, 0.037f, 10}},
                                 -1,
                                 DataType::kInt8,
                                 0.033f,
                                 4},
                      ConcatCase{"from_int8_convs_one_scale",
                                 {{{2, 8, 6, 6}, DataType::kUint8, 0.05f, 128},
                                  {{2, 16, 6, 6}, DataType::kUint8, 0.05f, 128}},
                                 1,
                                 DataType::kUint8,
                                 0.05f,
                                 128,
                                 true},
                      // Scales in no simple ratio: 0.05 / 0.06 = 5/6 would make every sixth value
                      // an exact tie, which float rounding breaks either way.
                      ConcatCase{"from_int8_convs_channels_last",
                                 {{{2, 8, 6, 6}, DataType::kUint8, 0.0513f, 128},
                                  {{2, 16, 6, 6}, DataType::kUint8, 0.0711f, 120}},
                                 1,
                                 DataType::kUint8,
                                 0.0607f,
                                 125,
                                 true}),
    [](const ::testing::TestParamInfo<ConcatCase>& info) { return info.param.name; });

}  // namespace
}  // namespace octet
