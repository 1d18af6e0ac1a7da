// Graphs written the way tf2onnx and Paddle2ONNX write them import and run, giving what the same
// network written plainly (the PyTorch exporter's way, which the fixture and conformance tests
// hold to reference outputs) gives.
#include <memory>

#include "engine/base/status_matchers.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/runtime/session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/onnx_model_builder.h"

namespace octet {
namespace {

using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::PseudoRandom;
using ::octet::testing::SetAttribute;
using ::octet::testing::ToTensorProto;

constexpr int64_t kBatch = 3, kChannels = 2, kSize = 4, kFilters = 4, kClasses = 3;

std::vector<float> Values(size_t count, uint32_t seed) { return PseudoRandom(count, seed); }

std::vector<Tensor> RunModel(const std::string& model, const std::string& input, const Tensor& x) {
  absl::StatusOr<Graph> graph = ImportOnnxModel(model);
  EXPECT_THAT(graph, ::octet::testing::IsOk());
  if (!graph.ok()) return {};
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(*std::move(graph), {});
  EXPECT_THAT(session, ::octet::testing::IsOk());
  if (!session.ok()) return {};
  absl::StatusOr<std::vector<Tensor>> out = (*session)->Run({{input, x}});
  EXPECT_THAT(out, ::octet::testing::IsOk());
  return out.ok() ? *std::move(out) : std::vector<Tensor>{};
}

void ExpectNear(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.shape(), expected.shape());
  for (int64_t i = 0; i < actual.element_count(); ++i) {
    EXPECT_NEAR(actual.data<float>()[i], expected.data<float>()[i], 1e-5f) << i;
  }
}

// The plain network on NCHW input "x": Conv 3x3 (pads 1) + bias -> Relu -> Transpose to NHWC ->
// Flatten -> Gemm (weights [K, N]) + bias -> Softmax over classes.
std::string PlainModel() {
  OnnxModelBuilder b;
  b.Input("x", {-1, kChannels, kSize, kSize}).Output("y", {-1, kClasses});
  b.Initializer("w", Tensor::FromVector<float>({kFilters, kChannels, 3, 3},
                                               Values(kFilters * kChannels * 9, 1)));
  b.Initializer("b", Tensor::FromVector<float>({kFilters}, Values(kFilters, 2)));
  b.Initializer("fc_w", Tensor::FromVector<float>({kSize * kSize * kFilters, kClasses},
                                                  Values(kSize * kSize * kFilters * kClasses, 3)));
  b.Initializer("fc_b", Tensor::FromVector<float>({kClasses}, Values(kClasses, 4)));
  SetAttribute(b.Node("Conv", {"x", "w", "b"}, {"c"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.Node("Relu", {"c"}, {"r"});
  SetAttribute(b.Node("Transpose", {"r"}, {"nhwc"}), "perm", std::vector<int64_t>{0, 2, 3, 1});
  b.Node("Flatten", {"nhwc"}, {"flat"});
  b.Node("Gemm", {"flat", "fc_w", "fc_b"}, {"logits"});
  SetAttribute(b.Node("Softmax", {"logits"}, {"y"}), "axis", int64_t{1});
  return b.Serialize();
}

// As tf2onnx writes it: NHWC input with ':' in names, a Transpose into the Conv and out of it,
// SAME_UPPER auto padding, the batch-dynamic flatten as Shape -> Gather -> Concat -> Reshape,
// MatMul + Add for the dense layer, Softmax on the last axis, and Identity at the end.
std::string Tf2OnnxModel() {
  OnnxModelBuilder b;
  b.Input("input_1:0", {-1, kSize, kSize, kChannels}).Output("Identity:0", {-1, kClasses});
  b.Initializer(
      "conv2d/Conv2D/ReadVariableOp:0",
      Tensor::FromVector<float>({kFilters, kChannels, 3, 3}, Values(kFilters * kChannels * 9, 1)));
  b.Initializer("conv2d/BiasAdd/ReadVariableOp:0",
                Tensor::FromVector<float>({kFilters}, Values(kFilters, 2)));
  b.Initializer("dense/MatMul/ReadVariableOp:0",
                Tensor::FromVector<float>({kSize * kSize * kFilters, kClasses},
                                          Values(kSize * kSize * kFilters * kClasses, 3)));
  b.Initializer("dense/BiasAdd/ReadVariableOp:0",
                Tensor::FromVector<float>({kClasses}, Values(kClasses, 4)));
  b.Initializer("const_zero", Tensor::FromVector<int64_t>({1}, {0}));
  b.Initializer("const_minus_one", Tensor::FromVector<int64_t>({1}, {-1}));
  SetAttribute(b.Node("Transpose", {"input_1:0"}, {"conv2d__6:0"}), "perm",
               std::vector<int64_t>{0, 3, 1, 2});
  onnx::NodeProto& conv = b.Node(
      "Conv", {"conv2d__6:0", "conv2d/Conv2D/ReadVariableOp:0", "conv2d/BiasAdd/ReadVariableOp:0"},
      {"conv2d/BiasAdd:0"});
  SetAttribute(conv, "auto_pad", std::string("SAME_UPPER"));
  SetAttribute(conv, "kernel_shape", std::vector<int64_t>{3, 3});
  b.Node("Relu", {"conv2d/BiasAdd:0"}, {"conv2d/Relu:0"});
  SetAttribute(b.Node("Transpose", {"conv2d/Relu:0"}, {"conv2d/Relu__8:0"}), "perm",
               std::vector<int64_t>{0, 2, 3, 1});
  b.Node("Shape", {"conv2d/Relu__8:0"}, {"flatten/Shape:0"});
  SetAttribute(b.Node("Gather", {"flatten/Shape:0", "const_zero"}, {"flatten/strided_slice:0"}),
               "axis", int64_t{0});
  SetAttribute(
      b.Node("Concat", {"flatten/strided_slice:0", "const_minus_one"}, {"flatten/Reshape/shape:0"}),
      "axis", int64_t{0});
  b.Node("Reshape", {"conv2d/Relu__8:0", "flatten/Reshape/shape:0"}, {"flatten/Reshape:0"});
  b.Node("MatMul", {"flatten/Reshape:0", "dense/MatMul/ReadVariableOp:0"}, {"dense/MatMul:0"});
  b.Node("Add", {"dense/MatMul:0", "dense/BiasAdd/ReadVariableOp:0"}, {"dense/BiasAdd:0"});
  SetAttribute(b.Node("Softmax", {"dense/BiasAdd:0"}, {"dense/Softmax:0"}), "axis", int64_t{-1});
  b.Node("Identity", {"dense/Softmax:0"}, {"Identity:0"});
  return b.Serialize();
}

TEST(ExporterStylesTest, Tf2OnnxGraphGivesWhatThePlainGraphGives) {
  const std::vector<float> values = Values(kBatch * kChannels * kSize * kSize, 9);
  const Tensor nchw = Tensor::FromVector<float>({kBatch, kChannels, kSize, kSize}, values);
  std::vector<float> transposed(values.size());
  for (int64_t n = 0; n < kBatch; ++n) {
    for (int64_t c = 0; c < kChannels; ++c) {
      for (int64_t p = 0; p < kSize * kSize; ++p) {
        transposed[(n * kSize * kSize + p) * kChannels + c] =
            values[(n * kChannels + c) * kSize * kSize + p];
      }
    }
  }
  const Tensor nhwc = Tensor::FromVector<float>({kBatch, kSize, kSize, kChannels}, transposed);
  const std::vector<Tensor> expected = RunModel(PlainModel(), "x", nchw);
  const std::vector<Tensor> actual = RunModel(Tf2OnnxModel(), "input_1:0", nhwc);
  ASSERT_EQ(expected.size(), 1u);
  ASSERT_EQ(actual.size(), 1u);
  ExpectNear(actual[0], expected[0]);
}

// As Paddle2ONNX writes it (opset 11 here): every weight a Constant node, a BatchNormalization
// after the bias-free Conv, the dense layer's input shaped by a Reshape to a Constant [0, -1],
// a Scale-style Mul and Add by constants before it, and GlobalAveragePool.
TEST(ExporterStylesTest, Paddle2OnnxGraphGivesWhatThePlainGraphGives) {
  auto paddle = [](bool constant_nodes) {
    OnnxModelBuilder b(/*opset=*/11);
    b.Input("image", {-1, kChannels, kSize, kSize}).Output("save_infer_model/scale_0.tmp_0", {});
    auto constant = [&](const std::string& name, const Tensor& value) {
      if (!constant_nodes) {
        b.Initializer(name, value);
        return;
      }
      onnx::NodeProto& node = b.Node("Constant", {}, {name});
      onnx::AttributeProto* attribute = node.add_attribute();
      attribute->set_name("value");
      attribute->set_type(onnx::AttributeProto::TENSOR);
      *attribute->mutable_t() = ToTensorProto("", value);
    };
    constant("conv2d_0.w_0", Tensor::FromVector<float>({kFilters, kChannels, 3, 3},
                                                       Values(kFilters * kChannels * 9, 1)));
    constant("batch_norm_0.w_0", Tensor::FromVector<float>({kFilters}, {0.5f, 2.0f, -1.0f, 1.0f}));
    constant("batch_norm_0.b_0", Tensor::FromVector<float>({kFilters}, {0.1f, -0.2f, 0.3f, 0.0f}));
    constant("batch_norm_0.w_1", Tensor::FromVector<float>({kFilters}, {0.05f, -0.1f, 0.2f, 0}));
    constant("batch_norm_0.w_2", Tensor::FromVector<float>({kFilters}, {0.25f, 4.0f, 1.0f, 2}));
    constant("scale", Tensor::FromVector<float>({}, {0.5f}));
    constant("shift", Tensor::FromVector<float>({}, {0.25f}));
    constant("shape", Tensor::FromVector<int64_t>({2}, {0, -1}));
    constant("fc_0.w_0",
             Tensor::FromVector<float>({kFilters, kClasses}, Values(kFilters * kClasses, 3)));
    constant("fc_0.b_0", Tensor::FromVector<float>({kClasses}, Values(kClasses, 4)));
    SetAttribute(b.Node("Conv", {"image", "conv2d_0.w_0"}, {"conv2d_0.tmp_0"}), "pads",
                 std::vector<int64_t>{1, 1, 1, 1});
    b.Node("BatchNormalization",
           {"conv2d_0.tmp_0", "batch_norm_0.w_0", "batch_norm_0.b_0", "batch_norm_0.w_1",
            "batch_norm_0.w_2"},
           {"batch_norm_0.tmp_2"});
    b.Node("Relu", {"batch_norm_0.tmp_2"}, {"relu_0.tmp_0"});
    b.Node("GlobalAveragePool", {"relu_0.tmp_0"}, {"pool2d_0.tmp_0"});
    b.Node("Mul", {"pool2d_0.tmp_0", "scale"}, {"scale_0.tmp_0"});
    b.Node("Add", {"scale_0.tmp_0", "shift"}, {"scale_0.tmp_1"});
    b.Node("Reshape", {"scale_0.tmp_1", "shape"}, {"reshape2_0.tmp_0"});
    b.Node("MatMul", {"reshape2_0.tmp_0", "fc_0.w_0"}, {"fc_0.tmp_0"});
    b.Node("Add", {"fc_0.tmp_0", "fc_0.b_0"}, {"fc_0.tmp_1"});
    b.Node("Softmax", {"fc_0.tmp_1"}, {"save_infer_model/scale_0.tmp_0"});
    return b.Serialize();
  };
  const Tensor x = Tensor::FromVector<float>({kBatch, kChannels, kSize, kSize},
                                             Values(kBatch * kChannels * kSize * kSize, 9));
  // The same graph with initializers is the plain form; Constant nodes must change nothing.
  const std::vector<Tensor> expected = RunModel(paddle(false), "image", x);
  const std::vector<Tensor> actual = RunModel(paddle(true), "image", x);
  ASSERT_EQ(expected.size(), 1u);
  ASSERT_EQ(actual.size(), 1u);
  ExpectNear(actual[0], expected[0]);
  // And the result is a distribution over the classes per sample.
  for (int64_t n = 0; n < kBatch; ++n) {
    float sum = 0.0f;
    for (int64_t k = 0; k < kClasses; ++k) sum += actual[0].data<float>()[n * kClasses + k];
    EXPECT_NEAR(sum, 1.0f, 1e-5f);
  }
}

}  // namespace
}  // namespace octet
