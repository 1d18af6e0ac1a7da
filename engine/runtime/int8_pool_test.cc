// The int8 pooling kernels (QDQ lowered to ai.octet.Int8*Pool) against the float simulation of
// the same QDQ graph: every output within one quantization step, with and without
// requantization, u8 and s8, padding, ceil mode and the global pools; the one case oneDNN cannot
// compute exactly (an average counting padding with a non-zero zero point) stays in float.
#include <random>

#include "absl/strings/str_cat.h"
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

struct PoolCase {
  std::string name;
  std::string op_type;
  DataType type;
  float x_scale, y_scale;
  int x_zero, y_zero;
  int64_t kernel = 3, stride = 1, pad = 0;
  bool ceil_mode = false;
  bool count_include_pad = false;
  bool lowered = true;
};

std::ostream& operator<<(std::ostream& os, const PoolCase& c) { return os << c.name; }

// Q(x) -> DQ -> pool -> Q -> DQ -> "y".
std::string QdqPoolModel(const PoolCase& c) {
  OnnxModelBuilder b;
  b.Input("x", {-1, 5, 11, 11}).Output("y", {});
  auto zero_tensor = [&](int zero) {
    return c.type == DataType::kUint8
               ? Tensor::FromVector<uint8_t>({}, {static_cast<uint8_t>(zero)})
               : Tensor::FromVector<int8_t>({}, {static_cast<int8_t>(zero)});
  };
  b.Initializer("x_scale", Tensor::FromVector<float>({}, {c.x_scale}));
  b.Initializer("x_zero", zero_tensor(c.x_zero));
  b.Initializer("y_scale", Tensor::FromVector<float>({}, {c.y_scale}));
  b.Initializer("y_zero", zero_tensor(c.y_zero));
  b.Node("QuantizeLinear", {"x", "x_scale", "x_zero"}, {"x_q"});
  b.Node("DequantizeLinear", {"x_q", "x_scale", "x_zero"}, {"x_dq"});
  onnx::NodeProto& pool = b.Node(c.op_type, {"x_dq"}, {"pooled"});
  if (c.op_type == "MaxPool" || c.op_type == "AveragePool") {
    SetAttribute(pool, "kernel_shape", std::vector<int64_t>{c.kernel, c.kernel});
    SetAttribute(pool, "strides", std::vector<int64_t>{c.stride, c.stride});
    SetAttribute(pool, "pads", std::vector<int64_t>{c.pad, c.pad, c.pad, c.pad});
    if (c.ceil_mode) SetAttribute(pool, "ceil_mode", int64_t{1});
    if (c.count_include_pad) SetAttribute(pool, "count_include_pad", int64_t{1});
  }
  b.Node("QuantizeLinear", {"pooled", "y_scale", "y_zero"}, {"y_q"});
  b.Node("DequantizeLinear", {"y_q", "y_scale", "y_zero"}, {"y"});
  return b.Serialize();
}

class Int8PoolTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(Int8PoolTest, MatchesTheFloatSimulationWithinOneStep) {
  const PoolCase& c = GetParam();
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(QdqPoolModel(c)));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> reference,
                             ::octet::testing::SimulatedSession(graph));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> int8, Session::Create(graph, {}));
  if (c.lowered) {
    ASSERT_EQ(int8->int8_nodes().size(), 1u);
    EXPECT_THAT(int8->int8_nodes()[0], ::testing::StartsWith("Int8" + c.op_type));
  } else {
    ASSERT_EQ(int8->simulated_nodes().size(), 1u);
    EXPECT_THAT(int8->simulated_nodes()[0], ::testing::HasSubstr("non-zero input zero point"));
  }
  std::mt19937 rng(3);
  // Values across (and past) the input range, so that saturation is exercised too.
  const float low = (c.type == DataType::kUint8 ? 0 - c.x_zero : -128 - c.x_zero) * c.x_scale;
  std::uniform_real_distribution<float> value(low * 1.1f, -low * 1.1f + 255 * c.x_scale * 0.2f);
  std::vector<float> x(2 * 5 * 11 * 11);
  for (float& v : x) v = value(rng);
  const Tensor input = Tensor::FromVector<float>({2, 5, 11, 11}, x);
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> expected, reference->Run({{"x", input}}));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, int8->Run({{"x", input}}));
  const int off = ::octet::testing::CountOneStepDifferences(expected[0], actual[0], c.y_scale);
  ASSERT_GE(off, 0);
  // Only float ties may round differently; max pooling with the same parameters is exact.
  if (c.op_type == "MaxPool" && c.x_scale == c.y_scale && c.x_zero == c.y_zero) {
    EXPECT_EQ(off, 0);
  }
  EXPECT_LT(off, expected[0].element_count() / 50 + 1);
  if (c.lowered) {
    OCTET_ASSERT_OK_AND_ASSIGN(std::vector<StepDescription> steps, int8->Describe({{"x", input}}));
    bool found = false;
    for (const StepDescription& step : steps) {
      if (step.op_type != "Int8" + c.op_type) continue;
      found = true;
      EXPECT_EQ(step.inputs[0].type, c.type);
      EXPECT_EQ(step.outputs[0].type, c.type);
      EXPECT_NE(step.implementation, "octet:cpu");
    }
    EXPECT_TRUE(found);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Pools, Int8PoolTest,
    ::testing::Values(
        PoolCase{"max_same_params", "MaxPool", DataType::kUint8, 0.02f, 0.02f, 128, 128},
        PoolCase{"max_requantized", "MaxPool", DataType::kUint8, 0.02f, 0.03f, 128, 10, 2, 2},
        PoolCase{"max_s8_padded_ceil", "MaxPool", DataType::kInt8, 0.02f, 0.02f, -3, -3, 3, 2, 1,
                 true},
        PoolCase{"average_exclude_pad", "AveragePool", DataType::kUint8, 0.02f, 0.015f, 128, 120, 3,
                 1, 1},
        PoolCase{"average_include_pad_zero_0", "AveragePool", DataType::kUint8, 0.02f, 0.02f, 0, 0,
                 3, 2, 1, false, true},
        PoolCase{"average_include_pad_zero_128", "AveragePool", DataType::kUint8, 0.02f, 0.02f, 128,
                 128, 3, 2, 1, false, true, /*lowered=*/false},
        PoolCase{"global_average", "GlobalAveragePool", DataType::kUint8, 0.02f, 0.004f, 100, 128},
        PoolCase{"global_average_s8", "GlobalAveragePool", DataType::kInt8, 0.02f, 0.01f, 5, 0},
        PoolCase{"global_max", "GlobalMaxPool", DataType::kUint8, 0.02f, 0.025f, 128, 100}),
    [](const ::testing::TestParamInfo<PoolCase>& info) { return info.param.name; });

}  // namespace
}  // namespace octet
