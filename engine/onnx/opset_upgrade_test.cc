// Each op whose definition changed before opset 13: a tiny model at an old opset runs (at its own
// opset) to the same outputs as its upgrade to 13, and the upgrade is a model ONNX's checker
// accepts at 13. Uses Octet cannot upgrade are refused naming the node.
#include "engine/onnx/opset_upgrade.h"

#include <memory>

#include "engine/base/status_matchers.h"
#include "engine/onnx/onnx_exporter.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/runtime/session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx/checker.h"
#include "tests/testing/onnx_model_builder.h"

namespace octet {
namespace {

using ::octet::testing::IsOk;
using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::PseudoRandom;
using ::octet::testing::SetAttribute;
using ::octet::testing::StatusIs;
using ::testing::HasSubstr;

std::vector<Tensor> RunGraph(const Graph& graph, const Tensor& x) {
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(graph, {});
  EXPECT_THAT(session, IsOk());
  if (!session.ok()) return {};
  absl::StatusOr<std::vector<Tensor>> out = (*session)->Run({{"x", x}});
  EXPECT_THAT(out, IsOk());
  return out.ok() ? *std::move(out) : std::vector<Tensor>{};
}

// Imports `model` at its opset and upgraded to 13, runs both on `x`, and expects the same outputs;
// the upgraded graph exports to a model ONNX's checker accepts.
void ExpectSameFunctionAt13(const OnnxModelBuilder& model, const Tensor& x) {
  OCTET_ASSERT_OK_AND_ASSIGN(const Graph old, ImportOnnxModel(model.Serialize()));
  ASSERT_LT(old.opset, 13);
  OCTET_ASSERT_OK_AND_ASSIGN(const Graph upgraded, ImportOnnxModel(model.Serialize(), 13));
  EXPECT_EQ(upgraded.opset, 13);
  const std::vector<Tensor> expected = RunGraph(old, x);
  const std::vector<Tensor> actual = RunGraph(upgraded, x);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(actual[i].shape(), expected[i].shape()) << "output " << i;
    ASSERT_EQ(actual[i].type(), expected[i].type()) << "output " << i;
    if (expected[i].type() != DataType::kFloat32) continue;
    for (int64_t k = 0; k < expected[i].element_count(); ++k) {
      EXPECT_NEAR(actual[i].data<float>()[k], expected[i].data<float>()[k], 1e-6f)
          << "output " << i << " element " << k;
    }
  }
  OCTET_ASSERT_OK_AND_ASSIGN(const std::string bytes, ExportOnnxModel(upgraded, {}));
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(bytes));
  EXPECT_NO_THROW(onnx::checker::check_model(proto));
}

Tensor Values(Shape shape, uint32_t seed) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return Tensor::FromVector<float>(shape, PseudoRandom(count, seed));
}

TEST(OpsetUpgradeTest, SoftmaxKeepsItsTwoDimensionalCoercion) {
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    for (int64_t axis : {1, 2, -1}) {
      OnnxModelBuilder b(11);
      b.Input("x", {2, 3, 4}).Output("y", {2, 3, 4});
      SetAttribute(b.Node(op, {"x"}, {"y"}), "axis", axis);
      SCOPED_TRACE(absl::StrCat(op, " axis ", axis));
      ExpectSameFunctionAt13(b, Values({2, 3, 4}, 1));
    }
  }
}

TEST(OpsetUpgradeTest, AxesAndSplitAttributesBecomeInputs) {
  OnnxModelBuilder b(11);
  b.Input("x", {2, 3, 1}).Output("a", {2, 1}).Output("b", {2, 2}).Output("c", {1, 2, 3});
  b.Output("d", {2});
  SetAttribute(b.Node("Squeeze", {"x"}, {"s"}), "axes", std::vector<int64_t>{2});
  onnx::NodeProto& split = b.Node("Split", {"s"}, {"a", "b"});
  SetAttribute(split, "axis", int64_t{1});
  SetAttribute(split, "split", std::vector<int64_t>{1, 2});
  SetAttribute(b.Node("Unsqueeze", {"s"}, {"c"}), "axes", std::vector<int64_t>{0});
  onnx::NodeProto& sum = b.Node("ReduceSum", {"s"}, {"d"});
  SetAttribute(sum, "axes", std::vector<int64_t>{1});
  SetAttribute(sum, "keepdims", int64_t{0});
  ExpectSameFunctionAt13(b, Values({2, 3, 1}, 2));
}

TEST(OpsetUpgradeTest, ClipSliceAndPadAttributesBecomeInputs) {
  OnnxModelBuilder b(9);
  b.Input("x", {2, 6}).Output("y", {2, 5});
  onnx::NodeProto& clip = b.Node("Clip", {"x"}, {"c"});
  SetAttribute(clip, "min", -0.5f);
  SetAttribute(clip, "max", 0.25f);
  onnx::NodeProto& slice = b.Node("Slice", {"c"}, {"s"});
  SetAttribute(slice, "starts", std::vector<int64_t>{1});
  SetAttribute(slice, "ends", std::vector<int64_t>{5});
  SetAttribute(slice, "axes", std::vector<int64_t>{1});
  onnx::NodeProto& pad = b.Node("Pad", {"s"}, {"y"});
  SetAttribute(pad, "pads", std::vector<int64_t>{0, 1, 0, 0});
  SetAttribute(pad, "value", 2.0f);
  ExpectSameFunctionAt13(b, Values({2, 6}, 3));
}

TEST(OpsetUpgradeTest, BatchNormalizationLosesItsOldAttributes) {
  for (int64_t opset : {6, 7}) {
    OnnxModelBuilder b(opset);
    b.Input("x", {2, 3, 2, 2}).Output("y", {2, 3, 2, 2});
    b.Initializer("scale", Values({3}, 4)).Initializer("bias", Values({3}, 5));
    b.Initializer("mean", Values({3}, 6));
    std::vector<float> variance = PseudoRandom(3, 7);
    for (float& v : variance) v = 1.0f + v * v;
    b.Initializer("var", Tensor::FromVector<float>({3}, variance));
    onnx::NodeProto& bn =
        b.Node("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"y"});
    SetAttribute(bn, "spatial", int64_t{1});
    if (opset == 6) SetAttribute(bn, "is_test", int64_t{1});
    SCOPED_TRACE(opset);
    ExpectSameFunctionAt13(b, Values({2, 3, 2, 2}, 8));
  }
}

TEST(OpsetUpgradeTest, UpsampleRunsAsResizeAndUpgrades) {
  // Nearest, scales as an input (Upsample-9): each value repeated 2 x 3 times.
  OnnxModelBuilder b(9);
  b.Input("x", {1, 1, 2, 2}).Output("y", {1, 1, 4, 6});
  b.Initializer("scales", Tensor::FromVector<float>({4}, {1, 1, 2, 3}));
  b.Node("Upsample", {"x", "scales"}, {"y"});
  const Tensor x = Tensor::FromVector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  OCTET_ASSERT_OK_AND_ASSIGN(const Graph graph, ImportOnnxModel(b.Serialize()));
  const std::vector<Tensor> y = RunGraph(graph, x);
  ASSERT_EQ(y.size(), 1u);
  EXPECT_THAT(y[0].values<float>(), ::testing::ElementsAre(1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3,
                                                           3, 4, 4, 4, 3, 3, 3, 4, 4, 4));
  ExpectSameFunctionAt13(b, x);
  // Linear, scales as an attribute (Upsample-7).
  OnnxModelBuilder linear(7);
  linear.Input("x", {1, 1, 2, 2}).Output("y", {1, 1, 4, 4});
  onnx::NodeProto& up = linear.Node("Upsample", {"x"}, {"y"});
  SetAttribute(up, "mode", std::string("linear"));
  onnx::AttributeProto* scales = up.add_attribute();
  scales->set_name("scales");
  scales->set_type(onnx::AttributeProto::FLOATS);
  for (float s : {1.0f, 1.0f, 2.0f, 2.0f}) scales->add_floats(s);
  OCTET_ASSERT_OK_AND_ASSIGN(const Graph linear_graph, ImportOnnxModel(linear.Serialize()));
  const std::vector<Tensor> z = RunGraph(linear_graph, x);
  ASSERT_EQ(z.size(), 1u);
  // Asymmetric coordinates: output column j reads input column j / 2, clamped at the edge.
  EXPECT_THAT(z[0].values<float>(),
              ::testing::ElementsAre(1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4));
  ExpectSameFunctionAt13(linear, x);
}

TEST(OpsetUpgradeTest, ResizeTenGetsItsTransformationExplicitly) {
  OnnxModelBuilder b(10);
  b.Input("x", {1, 1, 2, 3}).Output("y", {1, 1, 3, 5});
  b.Initializer("scales", Tensor::FromVector<float>({4}, {1, 1, 1.5f, 1.7f}));
  SetAttribute(b.Node("Resize", {"x", "scales"}, {"y"}), "mode", std::string("linear"));
  ExpectSameFunctionAt13(b, Values({1, 1, 2, 3}, 9));
}

TEST(OpsetUpgradeTest, LegacyBroadcastWithoutAnAxisIsNumpyBroadcasting) {
  OnnxModelBuilder b(6);
  b.Input("x", {2, 3}).Output("y", {2, 3});
  b.Initializer("b", Values({3}, 10));
  SetAttribute(b.Node("Add", {"x", "b"}, {"y"}), "broadcast", int64_t{1});
  ExpectSameFunctionAt13(b, Values({2, 3}, 11));
}

TEST(OpsetUpgradeTest, UsesWithoutAnEquivalentAreRefusedNamingTheNode) {
  OnnxModelBuilder add(6);
  add.Input("x", {2, 3, 4}).Output("y", {2, 3, 4});
  add.Initializer("b", Values({3}, 12));
  onnx::NodeProto& node = add.Node("Add", {"x", "b"}, {"y"});
  node.set_name("legacy_add");
  SetAttribute(node, "broadcast", int64_t{1});
  SetAttribute(node, "axis", int64_t{1});
  EXPECT_THAT(ImportOnnxModel(add.Serialize(), 13),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("Add 'legacy_add'"), HasSubstr("opset 6"),
                                        HasSubstr("axis"))));
  OnnxModelBuilder prelu(6);
  prelu.Input("x", {2, 3, 4, 4}).Output("y", {2, 3, 4, 4});
  prelu.Initializer("slope", Values({3}, 13));
  prelu.Node("PRelu", {"x", "slope"}, {"y"});
  EXPECT_THAT(ImportOnnxModel(prelu.Serialize(), 13),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PRelu")));
  OnnxModelBuilder bn(7);
  bn.Input("x", {2, 3}).Output("y", {2, 3});
  for (const char* name : {"scale", "bias", "mean", "var"}) bn.Initializer(name, Values({3}, 14));
  SetAttribute(bn.Node("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"y"}),
               "spatial", int64_t{0});
  EXPECT_THAT(ImportOnnxModel(bn.Serialize(), 13),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spatial=0")));
}

}  // namespace
}  // namespace octet
