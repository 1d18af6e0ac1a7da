#include "engine/onnx/onnx_importer.h"

#include "absl/strings/escaping.h"
#include "engine/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/onnx_model_builder.h"

namespace octet {
namespace {

using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(OnnxImporterTest, ImportsInputsOutputsConstantsAndSortsNodes) {
  OnnxModelBuilder b;
  b.Input("x", {-1, 3}).Output("y", {-1, 3});
  b.Initializer("w", Tensor::FromVector<float>({3}, {1, 2, 3}));
  // Listed consumer-first: the importer must order them.
  b.Node("Relu", {"t"}, {"y"});
  b.Node("Add", {"x", "w"}, {"t"});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph g, ImportOnnxModel(b.Serialize()));
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.inputs[0].name, "x");
  ASSERT_TRUE(g.inputs[0].shape.has_value());
  EXPECT_FALSE((*g.inputs[0].shape)[0].is_static());
  EXPECT_EQ((*g.inputs[0].shape)[0].name, "N");
  EXPECT_EQ((*g.inputs[0].shape)[1].size, 3);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op_type, "Add");
  EXPECT_EQ(g.nodes[1].op_type, "Relu");
  ASSERT_NE(g.FindConstant("w"), nullptr);
  EXPECT_THAT(g.FindConstant("w")->values<float>(), ElementsAre(1, 2, 3));
  EXPECT_EQ(g.opset, 13);
}

TEST(OnnxImporterTest, FoldsConstantNodesIntoConstants) {
  OnnxModelBuilder b;
  b.Input("x", {2}).Output("y", {2});
  onnx::NodeProto& c = b.Node("Constant", {}, {"k"});
  onnx::AttributeProto* value = c.add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  *value->mutable_t() = testing::ToTensorProto("", Tensor::FromVector<float>({2}, {5, 6}));
  b.Node("Add", {"x", "k"}, {"y"});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph g, ImportOnnxModel(b.Serialize()));
  EXPECT_EQ(g.nodes.size(), 1u);
  ASSERT_NE(g.FindConstant("k"), nullptr);
  EXPECT_THAT(g.FindConstant("k")->values<float>(), ElementsAre(5, 6));
}

TEST(OnnxImporterTest, RefusesBytesThatAreNotAModel) {
  EXPECT_THAT(ImportOnnxModel("\xff\xff\xff garbage"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an ONNX model")));
  EXPECT_THAT(ImportOnnxModel(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no graph")));
}

TEST(OnnxImporterTest, RefusesOpsetsOutOfRange) {
  OnnxModelBuilder b(/*opset=*/18);
  b.Input("x", {1}).Output("y", {1});
  b.Node("Relu", {"x"}, {"y"});
  EXPECT_THAT(ImportOnnxModel(b.Serialize()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("opset 18 is not supported")));
}

TEST(OnnxImporterTest, RefusesInitializerDataShorterThanItsDims) {
  onnx::ModelProto model;
  {
    OnnxModelBuilder b;
    b.Input("x", {4}).Output("y", {4});
    b.Node("Add", {"x", "w"}, {"y"});
    model = b.Build();
  }
  onnx::TensorProto* w = model.mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(1000000000);
  w->set_raw_data(std::string(8, '\0'));
  EXPECT_THAT(ImportOnnxModel(model.SerializeAsString()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'w' of shape [1000000000] needs 4000000000 bytes")));
  // Typed data that is too short is refused before anything is allocated.
  w->clear_raw_data();
  w->add_float_data(1.0f);
  EXPECT_THAT(ImportOnnxModel(model.SerializeAsString()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holds 1 values")));
  w->clear_dims();
  w->add_dims(int64_t{1} << 62);
  w->add_dims(8);
  EXPECT_THAT(ImportOnnxModel(model.SerializeAsString()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too")));
}

TEST(OnnxImporterTest, RefusesExternalData) {
  onnx::ModelProto model;
  {
    OnnxModelBuilder b;
    b.Input("x", {4}).Output("y", {4});
    b.Node("Add", {"x", "w"}, {"y"});
    model = b.Build();
  }
  onnx::TensorProto* w = model.mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(4);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  onnx::StringStringEntryProto* location = w->add_external_data();
  location->set_key("location");
  location->set_value("../../etc/passwd");
  EXPECT_THAT(ImportOnnxModel(model.SerializeAsString()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("external data")));
}

TEST(OnnxImporterTest, RefusesCyclesAndDanglingInputs) {
  {
    OnnxModelBuilder b;
    b.Input("x", {1}).Output("y", {1});
    b.Node("Add", {"x", "b"}, {"a"});
    b.Node("Relu", {"a"}, {"b"});
    b.Node("Relu", {"a"}, {"y"});
    EXPECT_THAT(ImportOnnxModel(b.Serialize()),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cycle")));
  }
  {
    OnnxModelBuilder b;
    b.Input("x", {1}).Output("y", {1});
    b.Node("Add", {"x", "nowhere"}, {"y"});
    EXPECT_THAT(ImportOnnxModel(b.Serialize()),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("reads 'nowhere', which no node, input or initializer")));
  }
  {
    OnnxModelBuilder b;
    b.Input("x", {1}).Output("y", {1});
    b.Node("Relu", {"x"}, {"y"});
    b.Node("Relu", {"x"}, {"y"});
    EXPECT_THAT(ImportOnnxModel(b.Serialize()),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("produced more than once")));
  }
}

TEST(OnnxImporterTest, OldOpsetModelsAreValidatedBeforeTheVersionConverterSeesThem) {
  // Found by tests/fuzz: an opset-1 model whose output nothing produces crashed ONNX's converter.
  std::string bytes;
  ASSERT_TRUE(absl::Base64Unescape(
      "CAMSDGJhY2tlbmQtdGVzdDpICg0KAXgSA25vdCIDTm90Egt0ZXN0X25vdF8yZFoTCgF4Eg4KDAgJEggKAggDCgIIBGIV"
      "CgNubXQSDgoMCAkSCAoCCAMKAggEQgQKABAB",
      &bytes));
  EXPECT_THAT(ImportOnnxModel(bytes),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("graph output 'nmt' is not produced by any node")));
}

TEST(OnnxImporterTest, ZeroPoolingStridesAreRefusedWithoutCrashing) {
  // Found by tests/fuzz: MaxPool with strides [0, 2] made ONNX's own shape inference divide by
  // zero; the importer no longer runs it, and the support check names the problem.
  std::string bytes;
  ASSERT_TRUE(absl::Base64Unescape(
      "CAMSB3B5dG9yY2gaAzAuMzqZAQpLCgEwEgExIgdNYXhQb29sKhUKDGtlcm5lbF9zaGFwZUADQAOgAQcqEQoEcGFk"
      "c0ABQAFAAUABoAEHKhAKB3N0cmlkZXNAAEACoAEHEhB0b3JjaC1qaXQtZXhwb3J0WhsKATASFgoUCAESEAoCCAEK"
      "AggDCgIIBwoCCAdiGwoBMRIWChQIARIQCgIIAQoCCAMKAggECgIIBEICEAY=",
      &bytes));
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(bytes));
  ASSERT_EQ(graph.nodes.size(), 1u);
  EXPECT_EQ(graph.nodes[0].op_type, "MaxPool");
}

TEST(OnnxImporterTest, ConvertsOldOpsetsWithTheVersionConverter) {
  OnnxModelBuilder b(/*opset=*/1);
  b.Input("x", {2}).Output("y", {2});
  b.Node("Relu", {"x"}, {"y"});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph g, ImportOnnxModel(b.Serialize()));
  EXPECT_EQ(g.opset, kMinOnnxOpset);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Relu");
}

}  // namespace
}  // namespace octet
