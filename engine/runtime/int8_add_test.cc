// The int8 Add (QDQ lowered to ai.octet.Int8Add: oneDNN's binary add with source scales and the
// zero points folded into eltwise_linear post-ops, or C++ when the operands broadcast) against
// the float simulation of the same QDQ graph: every output within one quantization step.
#include <random>

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

struct AddCase {
  std::string name;
  DataType a_type, b_type, y_type;
  float a_scale, b_scale, y_scale;
  int a_zero, b_zero, y_zero;
  bool relu;
  Shape b_shape = {2, 8, 6, 6};
};

std::ostream& operator<<(std::ostream& os, const AddCase& c) { return os << c.name; }

Tensor Zero(DataType type, int zero) {
  return type == DataType::kUint8 ? Tensor::FromVector<uint8_t>({}, {static_cast<uint8_t>(zero)})
                                  : Tensor::FromVector<int8_t>({}, {static_cast<int8_t>(zero)});
}

// Q(a) -> DQ, Q(b) -> DQ, Add [-> Relu] -> Q -> DQ -> "y".
std::string QdqAddModel(const AddCase& c) {
  OnnxModelBuilder b;
  b.Input("a", {2, 8, 6, 6}).Input("b", c.b_shape).Output("y", {});
  b.Initializer("a_scale", Tensor::FromVector<float>({}, {c.a_scale}));
  b.Initializer("a_zero", Zero(c.a_type, c.a_zero));
  b.Initializer("b_scale", Tensor::FromVector<float>({}, {c.b_scale}));
  b.Initializer("b_zero", Zero(c.b_type, c.b_zero));
  b.Initializer("y_scale", Tensor::FromVector<float>({}, {c.y_scale}));
  b.Initializer("y_zero", Zero(c.y_type, c.y_zero));
  b.Node("QuantizeLinear", {"a", "a_scale", "a_zero"}, {"a_q"});
  b.Node("DequantizeLinear", {"a_q", "a_scale", "a_zero"}, {"a_dq"});
  b.Node("QuantizeLinear", {"b", "b_scale", "b_zero"}, {"b_q"});
  b.Node("DequantizeLinear", {"b_q", "b_scale", "b_zero"}, {"b_dq"});
  b.Node("Add", {"a_dq", "b_dq"}, {"sum"});
  std::string before_q = "sum";
  if (c.relu) {
    b.Node("Relu", {"sum"}, {"act"});
    before_q = "act";
  }
  b.Node("QuantizeLinear", {before_q, "y_scale", "y_zero"}, {"y_q"});
  b.Node("DequantizeLinear", {"y_q", "y_scale", "y_zero"}, {"y"});
  return b.Serialize();
}

class Int8AddTest : public ::testing::TestWithParam<AddCase> {};

TEST_P(Int8AddTest, MatchesTheFloatSimulationWithinOneStep) {
  const AddCase& c = GetParam();
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(QdqAddModel(c)));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> reference,
                             ::octet::testing::SimulatedSession(graph));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> int8, Session::Create(graph, {}));
  ASSERT_EQ(int8->int8_nodes().size(), 1u);
  EXPECT_THAT(int8->int8_nodes()[0], ::testing::StartsWith("Int8Add"));
  std::mt19937 rng(4);
  // Past both operands' ranges, so that saturation on the way in and out is exercised.
  std::uniform_real_distribution<float> value(-3.5f, 3.5f);
  auto random = [&](const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(n);
    for (float& x : v) x = value(rng);
    return Tensor::FromVector<float>(shape, v);
  };
  const Tensor a = random({2, 8, 6, 6});
  const Tensor b = random(c.b_shape);
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> expected, reference->Run({{"a", a}, {"b", b}}));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, int8->Run({{"a", a}, {"b", b}}));
  const int off = ::octet::testing::CountOneStepDifferences(expected[0], actual[0], c.y_scale);
  ASSERT_GE(off, 0);
  EXPECT_LT(off, expected[0].element_count() / 50 + 1);
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<StepDescription> steps,
                             int8->Describe({{"a", a}, {"b", b}}));
  bool found = false;
  for (const StepDescription& step : steps) {
    if (step.op_type != "Int8Add") continue;
    found = true;
    EXPECT_EQ(step.outputs[0].type, c.y_type);
    EXPECT_THAT(step.notes,
                ::testing::HasSubstr(c.b_shape == Shape{2, 8, 6, 6} ? "folded into eltwise_linear"
                                                                    : "broadcast"));
  }
  EXPECT_TRUE(found);
}

INSTANTIATE_TEST_SUITE_P(
    Adds, Int8AddTest,
    ::testing::Values(AddCase{"u8_zero_points", DataType::kUint8, DataType::kUint8,
                              DataType::kUint8, 0.0213f, 0.0297f, 0.0411f, 128, 100, 90, false},
                      AddCase{"u8_relu", DataType::kUint8, DataType::kUint8, DataType::kUint8,
                              0.0213f, 0.0251f, 0.0307f, 128, 120, 0, true},
                      AddCase{"u8_relu_output_zero_point", DataType::kUint8, DataType::kUint8,
                              DataType::kUint8, 0.0213f, 0.0251f, 0.0307f, 128, 120, 17, true},
                      AddCase{"mixed_s8_u8_to_s8", DataType::kInt8, DataType::kUint8,
                              DataType::kInt8, 0.0303f, 0.0207f, 0.0509f, 5, 128, -4, false},
                      AddCase{"same_parameters", DataType::kUint8, DataType::kUint8,
                              DataType::kUint8, 0.02f, 0.02f, 0.02f, 128, 128, 128, false},
                      AddCase{"broadcast_per_channel",
                              DataType::kUint8,
                              DataType::kUint8,
                              DataType::kUint8,
                              0.0213f,
                              0.0297f,
                              0.0411f,
                              128,
                              100,
                              90,
                              true,
                              {1, 8, 1, 1}}),
    [](const ::testing::TestParamInfo<AddCase>& info) { return info.param.name; });

}  // namespace
}  // namespace octet
