// Float16 exports imported to compute in float32 (float16_rewrite.h): a network whose weights and
// computation are float16 between Casts gives what the same network with those weights gives in
// float32; float16 inputs and outputs keep their type for clients.
#include "engine/onnx/float16_rewrite.h"

#include <vector>

#include "engine/base/status_matchers.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/runtime/session.h"
#include "engine/tensor/float16.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/onnx_model_builder.h"

namespace octet {
namespace {

using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::PseudoRandom;
using ::octet::testing::SetAttribute;

Tensor Half(const std::vector<int64_t>& shape, const std::vector<float>& values) {
  Tensor t = Tensor::Create(DataType::kFloat16, shape).value();
  auto* bits = static_cast<uint16_t*>(t.raw_data());
  for (size_t i = 0; i < values.size(); ++i) bits[i] = FloatToHalf(values[i]);
  return t;
}

std::vector<float> RoundedToHalf(std::vector<float> values) {
  for (float& v : values) v = HalfToFloat(FloatToHalf(v));
  return values;
}

// x [N, 2, 6, 6] -> (Cast to float16) -> Conv 3x3 (2 -> 3, float16 weights and bias) -> Relu ->
// Resize x2 between Casts to float32 and back (as PyTorch's half exports do) -> Cast to float32.
// With `half` false: the same network in float32 with the float16 weights' values.
std::string Network(bool half) {
  const std::vector<float> w = RoundedToHalf(PseudoRandom(3 * 2 * 9, 5));
  const std::vector<float> b = RoundedToHalf(PseudoRandom(3, 6));
  OnnxModelBuilder builder;
  builder.Input("x", {-1, 2, 6, 6}).Output("y", {-1, 3, 12, 12});
  builder.Initializer("w",
                      half ? Half({3, 2, 3, 3}, w) : Tensor::FromVector<float>({3, 2, 3, 3}, w));
  builder.Initializer("b", half ? Half({3}, b) : Tensor::FromVector<float>({3}, b));
  builder.Initializer("scales", Tensor::FromVector<float>({4}, {1.0f, 1.0f, 2.0f, 2.0f}));
  builder.Initializer("roi", Tensor::FromVector<float>({0}, {}));
  std::string x = "x";
  if (half) {
    SetAttribute(builder.Node("Cast", {"x"}, {"x16"}), "to", int64_t{10});
    x = "x16";
  }
  SetAttribute(builder.Node("Conv", {x, "w", "b"}, {"conv"}), "pads",
               std::vector<int64_t>{1, 1, 1, 1});
  builder.Node("Relu", {"conv"}, {"relu"});
  if (half) {
    SetAttribute(builder.Node("Cast", {"relu"}, {"relu32"}), "to", int64_t{1});
    builder.Node("Resize", {"relu32", "roi", "scales"}, {"up32"});
    SetAttribute(builder.Node("Cast", {"up32"}, {"up"}), "to", int64_t{10});
    SetAttribute(builder.Node("Cast", {"up"}, {"y"}), "to", int64_t{1});
  } else {
    builder.Node("Resize", {"relu", "roi", "scales"}, {"y"});
  }
  return builder.Serialize();
}

TEST(Float16RewriteTest, AHalfNetworkComputesAsItsWeightsDoInFloat32) {
  OCTET_ASSERT_OK_AND_ASSIGN(Graph half, ImportOnnxModel(Network(true)));
  for (const auto& [name, type] : half.value_types) {
    EXPECT_NE(type, DataType::kFloat16) << name;
  }
  for (const auto& [name, tensor] : half.constants) {
    EXPECT_NE(tensor.type(), DataType::kFloat16) << name;
  }
  // The Casts between float16 and float32 are gone.
  for (const Node& node : half.nodes) EXPECT_NE(node.op_type, "Cast") << node.Describe();
  OCTET_ASSERT_OK_AND_ASSIGN(Graph reference, ImportOnnxModel(Network(false)));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> served, Session::Create(half, {}));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> expected, Session::Create(reference, {}));
  const Tensor x = Tensor::FromVector<float>({2, 2, 6, 6}, PseudoRandom(2 * 2 * 36, 7));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> got, served->Run({{"x", x}}));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> want, expected->Run({{"x", x}}));
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].type(), DataType::kFloat32);
  ASSERT_EQ(got[0].shape(), want[0].shape());
  for (int64_t i = 0; i < want[0].element_count(); ++i) {
    ASSERT_NEAR(got[0].data<float>()[i], want[0].data<float>()[i], 1e-5f) << i;
  }
}

// Inputs and outputs declared float16 stay float16: a client sends and receives halves.
TEST(Float16RewriteTest, Float16InputsAndOutputsKeepTheirType) {
  OnnxModelBuilder builder;
  builder.Input("x", {2, 3}, onnx::TensorProto::FLOAT16)
      .Output("y", {2, 3}, onnx::TensorProto::FLOAT16);
  builder.Initializer("c", Half({3}, {0.5f, -3.0f, 1000.0f}));
  builder.Node("Mul", {"x", "c"}, {"y"});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(builder.Serialize()));
  ASSERT_EQ(graph.inputs.size(), 1u);
  EXPECT_EQ(graph.inputs[0].type, DataType::kFloat16);
  EXPECT_EQ(graph.outputs[0].type, DataType::kFloat16);
  EXPECT_EQ(graph.TypeOf("x"), DataType::kFloat16);
  EXPECT_EQ(graph.TypeOf("y"), DataType::kFloat16);
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(graph, {}));
  const std::vector<float> x = {1.0f, 2.0f, 3.0f, -1.5f, 0.25f, 70.0f};
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> y, session->Run({{"x", Half({2, 3}, x)}}));
  ASSERT_EQ(y[0].type(), DataType::kFloat16);
  const auto* bits = static_cast<const uint16_t*>(y[0].raw_data());
  const float c[3] = {0.5f, -3.0f, 1000.0f};
  for (int i = 0; i < 6; ++i) {
    // Computed in float32 and rounded once to float16 (70 x 1000 overflows to infinity).
    EXPECT_EQ(bits[i], FloatToHalf(HalfToFloat(FloatToHalf(x[i])) * c[i % 3])) << i;
  }
}

TEST(Float16RewriteTest, LeavesFloat32GraphsAlone) {
  OnnxModelBuilder builder;
  builder.Input("x", {2}).Output("y", {2});
  builder.Node("Relu", {"x"}, {"y"});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(builder.Serialize()));
  const size_t nodes = graph.nodes.size();
  EXPECT_FALSE(ComputeFloat16InFloat32(&graph));
  EXPECT_EQ(graph.nodes.size(), nodes);
}

}  // namespace
}  // namespace octet
