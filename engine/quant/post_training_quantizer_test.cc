#include "engine/quant/post_training_quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_matchers.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/passes/batch_norm_folding.h"
#include "engine/quant/calibrator.h"
#include "engine/quant/evaluator.h"
#include "engine/quant/output_agreement.h"
#include "engine/quant/precision.h"
#include "engine/runtime/session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "onnx/checker.h"
#include "tests/testing/onnx_model_builder.h"

namespace octet {
namespace {

using ::octet::testing::IsOk;
using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::PseudoRandom;
using ::octet::testing::SetAttribute;
using ::octet::testing::StatusIs;
using ::octet::testing::TinyCnn;
using ::testing::HasSubstr;

Tensor Images(int count, uint32_t seed) {
  std::vector<float> values = PseudoRandom(static_cast<size_t>(count) * 64, seed);
  for (float& v : values) v = (v + 1.0f) / 2.0f;  // pixels in [0, 1)
  return Tensor::FromVector<float>({count, 1, 8, 8}, values);
}

SampleSet Samples(int count, uint32_t seed) {
  SampleSet set;
  set.inputs.emplace_back("image", Images(count, seed));
  return set;
}

std::vector<float> RunModel(const Graph& graph, const Tensor& input, const std::string& name) {
  auto session = Session::Create(graph, {});
  EXPECT_THAT(session, IsOk());
  auto out = (*session)->Run({{name, input}});
  EXPECT_THAT(out, IsOk());
  return std::vector<float>((*out)[0].data<float>(),
                            (*out)[0].data<float>() + (*out)[0].element_count());
}

void AddConstantNode(OnnxModelBuilder& b, const std::string& name, const Tensor& value) {
  onnx::NodeProto& node = b.Node("Constant", {}, {name});
  onnx::AttributeProto* attribute = node.add_attribute();
  attribute->set_name("value");
  attribute->set_type(onnx::AttributeProto::TENSOR);
  *attribute->mutable_t() = ::octet::testing::ToTensorProto("", value);
}

// Conv without bias -> BatchNormalization -> Relu; BN parameters as initializers or, as
// Paddle2ONNX writes them, Constant nodes.
std::string ConvBatchNormModel(bool constant_nodes) {
  OnnxModelBuilder b;
  b.Input("x", {-1, 2, 5, 5}).Output("y", {-1, 3, 5, 5});
  b.Initializer("w", Tensor::FromVector<float>({3, 2, 3, 3}, PseudoRandom(54, 1)));
  const std::vector<std::pair<std::string, std::vector<float>>> bn = {
      {"gamma", {0.5f, 2.0f, -1.0f}},
      {"beta", {0.1f, -0.2f, 0.3f}},
      {"mean", {0.05f, -0.1f, 0.2f}},
      {"var", {0.25f, 4.0f, 1.0f}}};
  for (const auto& [name, values] : bn) {
    const Tensor t = Tensor::FromVector<float>({3}, values);
    if (constant_nodes) {
      AddConstantNode(b, name, t);
    } else {
      b.Initializer(name, t);
    }
  }
  onnx::NodeProto& conv = b.Node("Conv", {"x", "w"}, {"c"});
  SetAttribute(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.Node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"bn"});
  b.Node("Relu", {"bn"}, {"y"});
  return b.Serialize();
}

class BatchNormFoldingTest : public ::testing::TestWithParam<bool> {};

TEST_P(BatchNormFoldingTest, FoldsBatchNormIntoPrecedingConvWithoutBias) {
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(ConvBatchNormModel(GetParam())));
  Graph folded = graph;
  OCTET_ASSERT_OK_AND_ASSIGN(int count, FoldBatchNorms(&folded));
  EXPECT_EQ(count, 1);
  ASSERT_EQ(folded.nodes.size(), 2u);
  EXPECT_EQ(folded.nodes[0].op_type, "Conv");
  EXPECT_EQ(folded.nodes[0].inputs.size(), 3u);  // a bias appeared
  EXPECT_EQ(folded.FindConstant("gamma"), nullptr);
  const Tensor x = Tensor::FromVector<float>({2, 2, 5, 5}, PseudoRandom(100, 9));
  const std::vector<float> expected = RunModel(graph, x, "x");
  const std::vector<float> actual = RunModel(folded, x, "x");
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-5f) << i;
}

INSTANTIATE_TEST_SUITE_P(InitializersOrConstantNodes, BatchNormFoldingTest, ::testing::Bool());

TEST(BatchNormFoldingTest, FoldsBatchNormAfterGemm) {
  OnnxModelBuilder b;
  b.Input("x", {-1, 4}).Output("y", {-1, 3});
  b.Initializer("w", Tensor::FromVector<float>({3, 4}, PseudoRandom(12, 2)));
  b.Initializer("b", Tensor::FromVector<float>({3}, {0.1f, 0.2f, 0.3f}));
  b.Initializer("gamma", Tensor::FromVector<float>({3}, {1.5f, -0.5f, 2.0f}));
  b.Initializer("beta", Tensor::FromVector<float>({3}, {0.0f, 1.0f, -1.0f}));
  b.Initializer("mean", Tensor::FromVector<float>({3}, {0.3f, 0.0f, -0.2f}));
  b.Initializer("var", Tensor::FromVector<float>({3}, {2.0f, 0.5f, 1.0f}));
  SetAttribute(b.Node("Gemm", {"x", "w", "b"}, {"g"}), "transB", int64_t{1});
  b.Node("BatchNormalization", {"g", "gamma", "beta", "mean", "var"}, {"y"});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(b.Serialize()));
  Graph folded = graph;
  OCTET_ASSERT_OK_AND_ASSIGN(int count, FoldBatchNorms(&folded));
  EXPECT_EQ(count, 1);
  const Tensor x = Tensor::FromVector<float>({5, 4}, PseudoRandom(20, 3));
  const std::vector<float> expected = RunModel(graph, x, "x");
  const std::vector<float> actual = RunModel(folded, x, "x");
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-5f) << i;
}

// The largest magnitude among a quantized weight's values.
int LargestQuantizedWeight(const Graph& graph, const std::string& name) {
  const Tensor* w = graph.FindConstant(name + "/quantized");
  EXPECT_NE(w, nullptr) << name;
  int largest = 0;
  if (w == nullptr) return largest;
  for (int8_t v : w->values<int8_t>()) largest = std::max(largest, std::abs(int{v}));
  return largest;
}

class QuantizeTinyCnnTest : public ::testing::Test {
 protected:
  QuantizeTinyCnnTest() : model_(TinyCnn().Serialize()), calibration_(Samples(96, 5)) {}

  absl::StatusOr<QuantizationResult> Quantize(QuantizationConfig config,
                                              QuantizationProgressCallback progress = nullptr) {
    QuantizationRequest request;
    request.model = model_;
    request.config = config;
    request.calibration = &calibration_;
    request.progress = std::move(progress);
    request.octet_version = "test";
    return QuantizeModel(request);
  }

  std::string model_;
  SampleSet calibration_;
};

TEST_F(QuantizeTinyCnnTest, ExportsAStandardQdqModelThatReimportsToTheSameOutputs) {
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, Quantize({}));
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(result.model));
  EXPECT_NO_THROW(onnx::checker::check_model(model));
  EXPECT_EQ(model.opset_import(0).version(), 13);
  int quantize = 0, dequantize = 0;
  for (const onnx::NodeProto& node : model.graph().node()) {
    quantize += node.op_type() == "QuantizeLinear";
    dequantize += node.op_type() == "DequantizeLinear";
  }
  // The inputs of the two Convs, the Add and the Gemm: image, r1, c2, flat; and the Add's
  // output sum (a layer output that is not a model output).
  EXPECT_EQ(quantize, 5);
  EXPECT_GT(dequantize, quantize);  // weights and biases too
  bool per_channel_int8_weights = false;
  for (const onnx::TensorProto& init : model.graph().initializer()) {
    if (init.name() == "conv2_w/quantized") {
      per_channel_int8_weights = init.data_type() == onnx::TensorProto::INT8;
    }
    EXPECT_NE(init.name(), "conv2_w") << "float weights must not remain";
  }
  EXPECT_TRUE(per_channel_int8_weights);
  // The exported bytes, imported again, compute what the pipeline's own graph computes.
  OCTET_ASSERT_OK_AND_ASSIGN(Graph reimported, ImportOnnxModel(result.model));
  const Tensor x = Images(8, 77);
  EXPECT_EQ(RunModel(reimported, x, "image"), RunModel(result.quantized_graph, x, "image"));
}

TEST_F(QuantizeTinyCnnTest, SameInputsGiveTheSameArtifactBytes) {
  QuantizationConfig config;
  config.weights.rounding = Rounding::kStochastic;
  config.weights.seed = 7;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult a, Quantize(config));
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult b, Quantize(config));
  EXPECT_EQ(a.model, b.model);
  // The same report but for the steps' wall times.
  nlohmann::json report_a = nlohmann::json::parse(a.report_json);
  nlohmann::json report_b = nlohmann::json::parse(b.report_json);
  report_a.erase("timing");
  report_b.erase("timing");
  EXPECT_EQ(report_a, report_b);
  config.weights.seed = 8;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult c, Quantize(config));
  EXPECT_NE(a.model, c.model);
}

// report.timing lists every step the job ran, in order, with its wall time and their sum.
TEST_F(QuantizeTinyCnnTest, ReportTimesEachStep) {
  QuantizationConfig config;  // auto calibration, GPTQ rounding, bias correction
  config.empirical_bias_correction = true;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, Quantize(config));
  const nlohmann::json timing = nlohmann::json::parse(result.report_json)["timing"];
  std::vector<std::string> names;
  double sum = 0.0;
  for (const auto& step : timing["steps"]) {
    names.push_back(step["step"]);
    EXPECT_GE(step["seconds"].get<double>(), 0.0) << step;
    sum += step["seconds"].get<double>();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"prepare", "calibrate", "choose calibration",
                                             "gptq rounding", "bias correction",
                                             "empirical bias correction", "evaluate", "export"}));
  EXPECT_NEAR(timing["seconds"].get<double>(), sum, 1e-9);
  EXPECT_GT(sum, 0.0);

  // Weights only: no calibration, no choices.
  config.mode = QuantizationMode::kWeightsOnly;
  config.empirical_bias_correction = false;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult weights_only, Quantize(config));
  const nlohmann::json report = nlohmann::json::parse(weights_only.report_json);
  names.clear();
  for (const auto& step : report["timing"]["steps"]) names.push_back(step["step"]);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "prepare");
  EXPECT_EQ(std::count(names.begin(), names.end(), "calibrate"), 0);
  EXPECT_EQ(names.back(), "export");
}

TEST_F(QuantizeTinyCnnTest, ReportHasEveryTensorAndLayerWithErrorSplit) {
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, Quantize({}));
  const nlohmann::json report = nlohmann::json::parse(result.report_json);
  EXPECT_EQ(report["config"]["weights"]["granularity"], "per_channel");
  EXPECT_EQ(report["config"]["calibration"]["method"], "auto");
  // The ReLU output keeps zero point 0; the image (pixels >= 0) too.
  EXPECT_EQ(report["tensors"]["r1"]["zero_points"][0], 0);
  EXPECT_EQ(report["tensors"]["r1"]["type"], "uint8");
  EXPECT_EQ(report["tensors"]["conv1_w"]["scales"].size(), 4u);
  // Bias correction gave the Gemm a new bias, quantized to int32.
  EXPECT_EQ(report["config"]["bias_correction"], true);
  EXPECT_EQ(report["tensors"]["logits/corrected_bias"]["kind"], "bias");
  EXPECT_EQ(report["tensors"]["logits/corrected_bias"]["type"], "int32");
  ASSERT_EQ(report["layers"].size(), 4u);  // Conv, Conv, Add, Gemm
  for (const auto& layer : report["layers"]) {
    EXPECT_TRUE(layer["sqnr_db"].is_number()) << layer;
    EXPECT_GT(layer["sqnr_db"].get<double>(), 15.0) << layer;
    // Quantizing only part of the model drifts less than quantizing all of it.
    EXPECT_GE(layer["weight_only_sqnr_db"].get<double>(), layer["sqnr_db"].get<double>() - 1.0);
    EXPECT_GE(layer["activation_only_sqnr_db"].get<double>(), layer["sqnr_db"].get<double>() - 1.0);
  }
  EXPECT_EQ(report["evaluation"]["data"], "held-out calibration samples");
  EXPECT_EQ(report["evaluation"]["samples"], 19);
  EXPECT_GT(report["evaluation"]["top1_agreement"].get<double>(), 0.8);
  // How the runtime executes the artifact here: every step with its implementation; each
  // quantized convolution either lowered to int8 (with its zero points) or listed as simulated
  // with the reason.
  const nlohmann::json& runtime = report["runtime"];
  ASSERT_TRUE(runtime["steps"].is_array()) << report;
  int convs = 0;
  for (const auto& step : runtime["steps"]) {
    EXPECT_FALSE(step["implementation"].get<std::string>().empty()) << step;
    if (step["op_type"] == "Int8Conv") {
      ++convs;
      EXPECT_THAT(step["notes"].get<std::string>(), HasSubstr("zero point")) << step;
    }
    if (step["op_type"] == "Conv") ++convs;
  }
  EXPECT_EQ(convs, 2);
  int conv_entries = 0;
  for (const auto& entry : runtime["int8_nodes"]) {
    conv_entries += entry.get<std::string>().rfind("Int8Conv", 0) == 0;
  }
  for (const auto& entry : runtime["simulated_nodes"]) {
    conv_entries += entry.get<std::string>().rfind("Conv", 0) == 0;
  }
  EXPECT_EQ(conv_entries, 2) << runtime;
  // The residual Add of two quantized tensors runs in int8 on any CPU.
  EXPECT_THAT(runtime["int8_nodes"].dump(), HasSubstr("Int8Add")) << runtime;
  // What the drift monitor compares live inputs with: the image's quantized range and the
  // calibration samples' histogram over it (10 bins, one below, one above), every value counted.
  const nlohmann::json& drift = report["drift_reference"]["inputs"];
  ASSERT_EQ(drift.size(), 1u) << report["drift_reference"];
  EXPECT_EQ(drift[0]["name"], "image");
  EXPECT_EQ(drift[0]["range_source"], "quantization");
  const float scale = report["tensors"]["image"]["scales"][0].get<float>();
  const int zero_point = report["tensors"]["image"]["zero_points"][0].get<int>();
  EXPECT_FLOAT_EQ(drift[0]["range"][1].get<float>(), (255 - zero_point) * scale);
  const std::vector<int64_t> counts = drift[0]["histogram"].get<std::vector<int64_t>>();
  ASSERT_EQ(counts.size(), 12u);
  int64_t total = 0;
  for (int64_t count : counts) total += count;
  EXPECT_EQ(total, drift[0]["values"].get<int64_t>());
  EXPECT_EQ(counts.front() + counts.back(), drift[0]["out_of_range"].get<int64_t>());
  EXPECT_GT(total, 0);
  // Every quantized activation's values on the evaluation samples against its range.
  const nlohmann::json& tensors = report["drift_reference"]["tensors"];
  int activations = 0;
  for (const auto& [name, entry] : report["tensors"].items())
    activations += entry["kind"] == "activation";
  ASSERT_EQ(tensors.size(), static_cast<size_t>(activations));
  for (const auto& tensor : tensors) {
    EXPECT_EQ(report["tensors"][tensor["name"].get<std::string>()]["kind"], "activation") << tensor;
    EXPECT_GT(tensor["values"].get<int64_t>(), 0) << tensor;
    EXPECT_LE(tensor["out_of_range"].get<int64_t>(), tensor["values"].get<int64_t>()) << tensor;
  }
  EXPECT_EQ(report["drift_reference"]["tensors_data"], "held-out calibration samples");
}

TEST_F(QuantizeTinyCnnTest, QuantizedModelsAreClassifiedAndNotQuantizedAgain) {
  OCTET_ASSERT_OK_AND_ASSIGN(Graph float_graph, ImportOnnxModel(model_));
  EXPECT_EQ(ClassifyPrecision(float_graph), GraphPrecision::kFloat);
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, Quantize({}));
  OCTET_ASSERT_OK_AND_ASSIGN(Graph qdq, ImportOnnxModel(result.model));
  EXPECT_EQ(ClassifyPrecision(qdq), GraphPrecision::kInt8);
  // Imported as it is: the scales are the exported ones, not recalibrated.
  ASSERT_NE(qdq.FindConstant("r1/scale"), nullptr);
  EXPECT_EQ(qdq.FindConstant("r1/scale")->data<float>()[0],
            result.quantized_graph.FindConstant("r1/scale")->data<float>()[0]);
  const std::string exported = result.model;
  model_ = exported;
  EXPECT_THAT(Quantize({}), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     HasSubstr("already quantized (int8)")));
  QuantizationConfig weights_only;
  weights_only.mode = QuantizationMode::kWeightsOnly;
  model_ = TinyCnn().Serialize();
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult w, Quantize(weights_only));
  OCTET_ASSERT_OK_AND_ASSIGN(Graph w_graph, ImportOnnxModel(w.model));
  EXPECT_EQ(ClassifyPrecision(w_graph), GraphPrecision::kWeightOnly);
}

TEST_F(QuantizeTinyCnnTest, BiasCorrectionReducesTheErrorOfCoarseWeights) {
  QuantizationConfig config;
  config.weights.bits = 4;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult corrected, Quantize(config));
  config.bias_correction = false;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult plain, Quantize(config));
  EXPECT_NE(plain.quantized_graph.FindConstant("fc_b/quantized"), nullptr);
  EXPECT_EQ(plain.quantized_graph.FindConstant("logits/corrected_bias/quantized"), nullptr);
  EXPECT_GT(corrected.evaluation->output_sqnr_db, plain.evaluation->output_sqnr_db);
}

// Empirical bias correction removes the mean shift each layer's output keeps after quantization:
// the quantized model follows the float one more closely, and the report says it ran.
TEST_F(QuantizeTinyCnnTest, EmpiricalBiasCorrectionImprovesTheOutputSqnr) {
  QuantizationConfig config;
  config.weights.bits = 4;  // coarse weights leave a shift worth correcting
  config.weights.per_channel = false;
  config.weights.rounding = Rounding::kNearest;  // GPTQ's rounding leaves little shift
  config.bias_correction = false;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult plain, Quantize(config));
  config.empirical_bias_correction = true;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult corrected, Quantize(config));
  ASSERT_TRUE(plain.evaluation.has_value() && corrected.evaluation.has_value());
  // 11.7 -> 19.6 dB when written; deterministic, so a margin of 3 dB only guards the direction.
  EXPECT_GT(corrected.evaluation->output_sqnr_db, plain.evaluation->output_sqnr_db + 3.0);
  EXPECT_THAT(corrected.report_json, HasSubstr("\"empirical_bias_correction\": true"));
  // Every Conv/Gemm now has a corrected bias, also conv2, which had none.
  EXPECT_NE(corrected.quantized_graph.FindConstant("c2/corrected_bias/quantized"), nullptr);
}

// GPTQ rounding (the default) keeps each layer's output closer to float than nearest rounding on
// the same grid, most visibly with 4-bit weights; the report names the rounding.
TEST_F(QuantizeTinyCnnTest, GptqRoundingImprovesTheOutputSqnr) {
  QuantizationConfig config;
  EXPECT_EQ(config.weights.rounding, Rounding::kGptq);
  config.weights.bits = 4;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult gptq, Quantize(config));
  config.weights.rounding = Rounding::kNearest;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult nearest, Quantize(config));
  ASSERT_TRUE(gptq.evaluation.has_value() && nearest.evaluation.has_value());
  // Deterministic; the margin only guards the direction.
  EXPECT_GT(gptq.evaluation->output_sqnr_db, nearest.evaluation->output_sqnr_db + 2.0);
  EXPECT_THAT(gptq.report_json, HasSubstr("\"rounding\": \"gptq\""));
  // The same grid: GPTQ only chooses other integers.
  const Tensor* g = gptq.quantized_graph.FindConstant("conv1_w/scale");
  const Tensor* n = nearest.quantized_graph.FindConstant("conv1_w/scale");
  ASSERT_NE(g, nullptr);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(std::vector<float>(g->data<float>(), g->data<float>() + g->element_count()),
            std::vector<float>(n->data<float>(), n->data<float>() + n->element_count()));
}

// Without calibration data (weights-only mode) GPTQ has no inputs to round against: the weights
// are rounded to nearest and the report says so.
TEST_F(QuantizeTinyCnnTest, GptqWithoutCalibrationDataRoundsToNearestAndSaysSo) {
  QuantizationRequest request;
  request.model = model_;
  request.config.mode = QuantizationMode::kWeightsOnly;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult gptq, QuantizeModel(request));
  EXPECT_THAT(gptq.report_json,
              HasSubstr("none was given, so the weights were rounded to nearest"));
  request.config.weights.rounding = Rounding::kNearest;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult nearest, QuantizeModel(request));
  EXPECT_EQ(gptq.model.size(), nearest.model.size());
  const Tensor* g = gptq.quantized_graph.FindConstant("conv1_w/quantized");
  const Tensor* n = nearest.quantized_graph.FindConstant("conv1_w/quantized");
  ASSERT_NE(g, nullptr);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(std::memcmp(g->raw_data(), n->raw_data(), g->element_count()), 0);
}

// GPTQ's statistics grow with the square of a layer's input length: past 8192 values (a 512 MiB
// Gram matrix) the layer keeps nearest rounding, named in the report, and the job goes on.
TEST(GptqRoundingTest, LeavesLayersWithVeryLongInputsToNearestRounding) {
  constexpr int64_t kLong = 8193;
  OnnxModelBuilder b;
  b.Input("x", {-1, kLong}).Output("y", {-1, 2});
  b.Initializer("w", Tensor::FromVector<float>({2, kLong}, PseudoRandom(2 * kLong, 4)));
  SetAttribute(b.Node("Gemm", {"x", "w"}, {"y"}), "transB", int64_t{1});
  SampleSet calibration;
  calibration.inputs.emplace_back(
      "x", Tensor::FromVector<float>({8, kLong}, PseudoRandom(8 * kLong, 5)));
  const std::string model = b.Serialize();
  QuantizationRequest request;
  request.model = model;
  request.calibration = &calibration;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, QuantizeModel(request));
  EXPECT_THAT(result.report_json, HasSubstr("dots vectors of 8193 values (over 8192); rounded to "
                                            "nearest"));
  EXPECT_NE(result.quantized_graph.FindConstant("w/quantized"), nullptr);
}

TEST_F(QuantizeTinyCnnTest, WeightsOnlyNeedsNoCalibrationData) {
  QuantizationRequest request;
  request.model = model_;
  request.config.mode = QuantizationMode::kWeightsOnly;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, QuantizeModel(request));
  int quantize = 0;
  for (const Node& node : result.quantized_graph.nodes)
    quantize += node.op_type == "QuantizeLinear";
  EXPECT_EQ(quantize, 0);
  EXPECT_NE(result.quantized_graph.FindConstant("conv1_w/quantized"), nullptr);
  EXPECT_NE(result.quantized_graph.FindConstant("fc_b"), nullptr) << "biases stay float";
  EXPECT_FALSE(result.evaluation.has_value());
}

TEST_F(QuantizeTinyCnnTest, FourBitWeightsUseFifteenLevelsAndTheReportSaysTheFileDoesNotShrink) {
  QuantizationConfig config;
  config.weights.bits = 4;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, Quantize(config));
  const Tensor* w = result.quantized_graph.FindConstant("conv2_w/quantized");
  ASSERT_NE(w, nullptr);
  const auto values = w->values<int8_t>();
  EXPECT_EQ(*std::min_element(values.begin(), values.end()), -7);
  EXPECT_EQ(*std::max_element(values.begin(), values.end()), 7);
  EXPECT_THAT(result.report_json, HasSubstr("does not shrink"));
}

TEST_F(QuantizeTinyCnnTest, SevenBitWeightsStayWithinSixtyThree) {
  QuantizationConfig config;
  config.weights.bits = 7;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, Quantize(config));
  EXPECT_EQ(LargestQuantizedWeight(result.quantized_graph, "conv2_w"),
            63);  // [-63, 63]: narrow range, each channel's largest weight at +-63
  EXPECT_THAT(result.report_json, HasSubstr("7-bit weights are stored in int8"));
}

// Flatten only moves values: its output takes its input's scale and zero point (no rounding
// added), and the int8 runtime then flattens the integers themselves.
TEST_F(QuantizeTinyCnnTest, ValueMovingOpsKeepTheirInputsQuantizationParameters) {
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, Quantize({}));
  const Graph& graph = result.quantized_graph;
  for (const char* suffix : {"/scale", "/zero_point"}) {
    const Tensor* in = graph.FindConstant(absl::StrCat("sum", suffix));
    const Tensor* out = graph.FindConstant(absl::StrCat("flat", suffix));
    ASSERT_NE(in, nullptr);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(in->type(), out->type());
    EXPECT_EQ(0, std::memcmp(in->raw_data(), out->raw_data(), ElementSize(in->type())));
  }
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(graph, {}));
  EXPECT_THAT(session->int8_nodes(), ::testing::Contains(HasSubstr("Flatten")));
}

TEST_F(QuantizeTinyCnnTest, WeightsAndActivationsNeedCalibrationData) {
  QuantizationRequest request;
  request.model = model_;
  EXPECT_THAT(QuantizeModel(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("calibration data")));
}

TEST_F(QuantizeTinyCnnTest, NaNInCalibrationDataIsAClearError) {
  calibration_.inputs[0].second.data<float>()[70] = NAN;
  EXPECT_THAT(Quantize({}), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("calibration batch 0, tensor 'image'")));
}

TEST_F(QuantizeTinyCnnTest, SamplesThatDoNotFitTheModelAreRefused) {
  calibration_.inputs[0].first = "pixels";
  EXPECT_THAT(Quantize({}), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("no tensor for model input 'image'")));
}

TEST_F(QuantizeTinyCnnTest, ReportsProgressPerBatchAndHonoursCancellation) {
  QuantizationConfig config;
  config.batch_size = 16;
  std::vector<int> batches;
  auto status = Quantize(config, [&](const QuantizationProgress& p) {
    if (p.stage == QuantizationStage::kCalibrate && p.batches_done > 0) {
      batches.push_back(p.batches_done);
      EXPECT_EQ(p.batches_total, 5);  // 77 calibration samples after holding out 19
    }
    return batches.size() < 2;
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kCancelled, HasSubstr("batch 2")));
  EXPECT_EQ(batches, (std::vector<int>{1, 2}));
}

TEST_F(QuantizeTinyCnnTest, EvaluatesTheFirstFloatOutputOrTheNamedOne) {
  // A model whose first output is an integer tensor.
  OnnxModelBuilder b;
  b.Input("x", {-1, 4})
      .Output("rounded", {-1, 3}, onnx::TensorProto::INT64)
      .Output("scores", {-1, 3});
  b.Initializer("w", Tensor::FromVector<float>({3, 4}, PseudoRandom(12, 4)));
  SetAttribute(b.Node("Gemm", {"x", "w"}, {"scores"}), "transB", int64_t{1});
  SetAttribute(b.Node("Cast", {"scores"}, {"rounded"}), "to", int64_t{onnx::TensorProto::INT64});
  const std::string model = b.Serialize();
  SampleSet samples;
  samples.inputs.emplace_back("x", Tensor::FromVector<float>({40, 4}, PseudoRandom(160, 8)));
  QuantizationRequest request;
  request.model = model;
  request.calibration = &samples;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, QuantizeModel(request));
  EXPECT_EQ(result.evaluation->samples, 8);
  EXPECT_GT(result.evaluation->output_sqnr_db, 20.0);
  request.config.evaluation_output = "rounded";
  EXPECT_THAT(QuantizeModel(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not float32")));
}

// A dense-prediction model: a 3-class segmentation map, a single-channel probability map and a
// scalar, none of them one class per sample.
std::string DenseModel() {
  OnnxModelBuilder b;
  b.Input("x", {-1, 2, 6, 6})
      .Output("segmentation", {-1, 3, 6, 6})
      .Output("probability", {-1, 1, 6, 6})
      .Output("mean", {});
  b.Initializer("w1", Tensor::FromVector<float>({3, 2, 3, 3}, PseudoRandom(54, 21)));
  b.Initializer("w2", Tensor::FromVector<float>({1, 2, 3, 3}, PseudoRandom(18, 22)));
  SetAttribute(b.Node("Conv", {"x", "w1"}, {"segmentation"}), "pads",
               std::vector<int64_t>{1, 1, 1, 1});
  SetAttribute(b.Node("Conv", {"x", "w2"}, {"logit"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.Node("Sigmoid", {"logit"}, {"probability"});
  SetAttribute(b.Node("ReduceMean", {"segmentation"}, {"mean"}), "keepdims", int64_t{0});
  return b.Serialize();
}

TEST(EvaluationTest, DenseOutputsGetPerPixelAgreementAndNothingFailsTheJob) {
  const std::string model = DenseModel();
  SampleSet samples;
  samples.inputs.emplace_back("x", Tensor::FromVector<float>({40, 2, 6, 6}, PseudoRandom(2880, 9)));
  samples.labels.assign(40, 1);  // labels, but no output has a class per sample
  QuantizationRequest request;
  request.model = model;
  request.calibration = &samples;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, QuantizeModel(request));
  const Comparison& c = *result.evaluation;
  EXPECT_EQ(c.output, "segmentation");
  EXPECT_FALSE(c.top1_agreement.has_value());
  EXPECT_FALSE(c.reference_top1.has_value());
  EXPECT_GT(c.output_sqnr_db, 20.0);
  ASSERT_EQ(c.outputs.size(), 3u);
  EXPECT_EQ(c.outputs[0].rule.kind, AgreementRule::Kind::kArgmaxMap);
  ASSERT_TRUE(c.outputs[0].agreement.has_value());
  EXPECT_GT(*c.outputs[0].agreement, 0.9);
  EXPECT_GT(c.outputs[0].cosine, 0.99);
  EXPECT_EQ(c.outputs[1].rule.kind, AgreementRule::Kind::kThreshold);
  EXPECT_GT(c.outputs[1].agreement.value_or(0), 0.9);
  EXPECT_THAT(c.outputs[2].skipped, HasSubstr("scalar"));
  EXPECT_THAT(c.notes, ::testing::Contains(HasSubstr("no class per sample")));
  const nlohmann::json report = nlohmann::json::parse(result.report_json);
  const nlohmann::json& evaluation = report["evaluation"];
  EXPECT_FALSE(evaluation.contains("top1_agreement")) << evaluation;
  EXPECT_EQ(evaluation["outputs"][0]["agreement_metric"], "per-position argmax over axis 1");
  EXPECT_EQ(evaluation["outputs"][1]["agreement_metric"], "agreement of values above 0.5");
  EXPECT_TRUE(evaluation["outputs"][2].contains("skipped"));
  // The class axis and threshold are configurable: channels as classes of a probability map
  // make no sense, so axis 1 of [N, 1, H, W] thresholds; a threshold of 2 makes every value agree.
  request.config.evaluation_output = "probability";
  request.config.evaluation_threshold = 2.0f;
  OCTET_ASSERT_OK_AND_ASSIGN(result, QuantizeModel(request));
  EXPECT_EQ(result.evaluation->output, "probability");
  EXPECT_EQ(result.evaluation->outputs[1].agreement, 1.0);
}

// Sizes computed from a value's shape at run time (Shape -> Slice -> Concat -> Resize, as U-Net
// style exports upsample to a skip connection's size): the int64 Concat is not a layer, and
// the job compares only float values.
TEST(EvaluationTest, ShapeComputationsAreNotLayers) {
  OnnxModelBuilder b;
  b.Input("x", {-1, 2, 6, 6}).Output("y", {-1, 3, 12, 12});
  b.Initializer("w", Tensor::FromVector<float>({3, 2, 3, 3}, PseudoRandom(54, 31)));
  b.Initializer("starts", Tensor::FromVector<int64_t>({1}, {0}));
  b.Initializer("ends", Tensor::FromVector<int64_t>({1}, {2}));
  b.Initializer("size", Tensor::FromVector<int64_t>({2}, {12, 12}));
  b.Initializer("roi", Tensor::FromVector<float>({0}, {}));
  b.Initializer("scales", Tensor::FromVector<float>({0}, {}));
  SetAttribute(b.Node("Conv", {"x", "w"}, {"conv"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.Node("Shape", {"conv"}, {"shape"});
  b.Node("Slice", {"shape", "starts", "ends"}, {"batch_channels"});
  SetAttribute(b.Node("Concat", {"batch_channels", "size"}, {"sizes"}), "axis", int64_t{0});
  b.Node("Resize", {"conv", "roi", "scales", "sizes"}, {"y"});
  SampleSet samples;
  samples.inputs.emplace_back("x",
                              Tensor::FromVector<float>({16, 2, 6, 6}, PseudoRandom(1152, 32)));
  const std::string model = b.Serialize();
  QuantizationRequest request;
  request.model = model;
  request.calibration = &samples;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, QuantizeModel(request));
  EXPECT_GT(result.evaluation->output_sqnr_db, 20.0);
  const nlohmann::json report = nlohmann::json::parse(result.report_json);
  for (const nlohmann::json& layer : report["layers"]) {
    EXPECT_NE(layer.value("op_type", ""), "Concat") << layer;
  }
}

// Depthwise convolutions and pointwise layers (1x1 of stride 1 and no padding, MatMul, Gemm)
// take their own precision; a strided 1x1 and a 3x3 convolution take `bits`.
TEST(WeightPrecisionTest, DepthwiseAndPointwiseLayersTakeTheirOwnBits) {
  OnnxModelBuilder b;
  b.Input("x", {-1, 4, 6, 6}).Output("y", {-1, 4, 3, 5});
  b.Initializer("dw", Tensor::FromVector<float>({4, 1, 3, 3}, PseudoRandom(36, 41)));
  b.Initializer("pw", Tensor::FromVector<float>({8, 4, 1, 1}, PseudoRandom(32, 42)));
  b.Initializer("strided", Tensor::FromVector<float>({6, 8, 1, 1}, PseudoRandom(48, 43)));
  b.Initializer("dense", Tensor::FromVector<float>({4, 6, 3, 3}, PseudoRandom(216, 44)));
  b.Initializer("mm", Tensor::FromVector<float>({3, 5}, PseudoRandom(15, 45)));
  onnx::NodeProto& dw = b.Node("Conv", {"x", "dw"}, {"a"});
  SetAttribute(dw, "group", int64_t{4});
  SetAttribute(dw, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.Node("Conv", {"a", "pw"}, {"b"});
  SetAttribute(b.Node("Conv", {"b", "strided"}, {"c"}), "strides", std::vector<int64_t>{2, 2});
  SetAttribute(b.Node("Conv", {"c", "dense"}, {"d"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.Node("MatMul", {"d", "mm"}, {"y"});
  SampleSet samples;
  samples.inputs.emplace_back("x",
                              Tensor::FromVector<float>({16, 4, 6, 6}, PseudoRandom(2304, 46)));
  const std::string model = b.Serialize();
  QuantizationRequest request;
  request.model = model;
  request.calibration = &samples;
  request.config.weights.bits = 4;
  request.config.weights.depthwise_bits = 6;
  request.config.weights.pointwise_bits = 5;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, QuantizeModel(request));
  const Graph& graph = result.quantized_graph;
  EXPECT_EQ(LargestQuantizedWeight(graph, "dw"), 31);
  EXPECT_EQ(LargestQuantizedWeight(graph, "pw"), 15);
  EXPECT_EQ(LargestQuantizedWeight(graph, "mm"), 15);
  EXPECT_EQ(LargestQuantizedWeight(graph, "strided"), 7);
  EXPECT_EQ(LargestQuantizedWeight(graph, "dense"), 7);
  const nlohmann::json report = nlohmann::json::parse(result.report_json);
  EXPECT_EQ(report["weight_precision"]["depthwise_bits"], 6);
  EXPECT_EQ(report["weight_precision"]["pointwise_bits"], 5);
  EXPECT_EQ(report["weight_precision"]["other_bits"], 4);
  EXPECT_FALSE(report["weight_precision"].contains("trials"));

  // Where needed: pointwise layers are raised first, depthwise ones only if that is not enough.
  request.config.weights = {};
  request.config.weights.bits = 2;
  request.config.weights.bits_where_needed = 8;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult raised, QuantizeModel(request));
  const nlohmann::json precision = nlohmann::json::parse(raised.report_json)["weight_precision"];
  const nlohmann::json& trials = precision["trials"];
  ASSERT_GE(trials.size(), 2u) << precision;
  EXPECT_EQ(trials[0]["pointwise_bits"], 2);
  EXPECT_EQ(trials[0]["depthwise_bits"], 2);
  EXPECT_EQ(trials[1]["pointwise_bits"], 8);
  EXPECT_EQ(trials[1]["depthwise_bits"], 2);
  if (trials[1]["worst_output_sqnr_db"].get<double>() < 20.0) {
    ASSERT_EQ(trials.size(), 3u) << precision;
    EXPECT_EQ(trials[2]["depthwise_bits"], 8);
  } else {
    EXPECT_EQ(trials.size(), 2u) << precision;
    EXPECT_EQ(precision["depthwise_bits"], 2);
  }
  EXPECT_EQ(LargestQuantizedWeight(raised.quantized_graph, "dense"), 1);
}

// bits_where_needed: the job measures the configured precision on calibration samples and, where
// some output falls below 20 dB, gives depthwise and pointwise layers the higher one.
TEST_F(QuantizeTinyCnnTest, PointwiseLayersTakeMoreBitsOnlyWhereTheModelNeedsThem) {
  QuantizationConfig coarse;
  coarse.weights.bits = 3;
  coarse.weights.bits_where_needed = 8;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult raised, Quantize(coarse));
  nlohmann::json precision = nlohmann::json::parse(raised.report_json)["weight_precision"];
  ASSERT_EQ(precision["trials"].size(), 2u) << precision;
  EXPECT_LT(precision["trials"][0]["worst_output_sqnr_db"].get<double>(), 20.0);
  EXPECT_GT(precision["trials"][1]["worst_output_sqnr_db"].get<double>(),
            precision["trials"][0]["worst_output_sqnr_db"].get<double>());
  EXPECT_EQ(precision["trials"][0]["worst_output"], "logits");
  EXPECT_EQ(precision["pointwise_bits"], 8);
  EXPECT_EQ(precision["other_bits"], 3);
  EXPECT_EQ(LargestQuantizedWeight(raised.quantized_graph, "fc_w"), 127);  // the Gemm
  EXPECT_EQ(LargestQuantizedWeight(raised.quantized_graph, "conv2_w"), 3);

  QuantizationConfig fine;
  fine.weights.bits = 7;
  fine.weights.bits_where_needed = 8;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult kept, Quantize(fine));
  precision = nlohmann::json::parse(kept.report_json)["weight_precision"];
  ASSERT_EQ(precision["trials"].size(), 1u) << precision;
  EXPECT_GE(precision["trials"][0]["worst_output_sqnr_db"].get<double>(), 20.0);
  EXPECT_EQ(precision["pointwise_bits"], 7);
  EXPECT_EQ(LargestQuantizedWeight(kept.quantized_graph, "fc_w"), 63);
}

TEST_F(QuantizeTinyCnnTest, RejectsInvalidConfigs) {
  QuantizationConfig config;
  config.weights.bits = 9;
  EXPECT_THAT(Quantize(config), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bits")));
  config = {};
  config.weights.depthwise_bits = 1;
  EXPECT_THAT(Quantize(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("weights.depthwise_bits is 1")));
  config = {};
  config.weights.bits_where_needed = 9;
  EXPECT_THAT(Quantize(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("weights.bits_where_needed is 9")));
  config = {};
  config.batch_size = 0;
  EXPECT_THAT(Quantize(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch size 0")));
  config = {};
  config.calibration.method = CalibrationMethod::kPercentile;
  config.calibration.percentile = 150;
  EXPECT_THAT(Quantize(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("percentile 150")));
  config = {};
  config.evaluation_class_axis = 0;
  EXPECT_THAT(Quantize(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("class axis 0")));
  config = {};
  config.evaluation_threshold = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(Quantize(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("threshold")));
}

TEST_F(QuantizeTinyCnnTest, EveryCalibrationMethodProducesAWorkingModel) {
  for (auto method : {CalibrationMethod::kMinMax, CalibrationMethod::kMovingAverageMinMax,
                      CalibrationMethod::kPercentile, CalibrationMethod::kEntropy,
                      CalibrationMethod::kMse, CalibrationMethod::kAuto}) {
    QuantizationConfig config;
    config.calibration.method = method;
    OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, Quantize(config));
    EXPECT_GT(result.evaluation->output_sqnr_db, 10.0) << CalibrationMethodName(method);
  }
}

TEST_F(QuantizeTinyCnnTest, AutoCalibrationKeepsTheCandidateClosestToFloat) {
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult automatic, Quantize({}));
  const nlohmann::json report = nlohmann::json::parse(automatic.report_json);
  const nlohmann::json& calibration = report["calibration"];
  ASSERT_EQ(calibration["candidates"].size(), 3u) << calibration;
  EXPECT_GT(calibration["samples"].get<int>(), 0);
  std::string best;
  double best_sqnr = -1e9;
  for (const nlohmann::json& candidate : calibration["candidates"]) {
    ASSERT_TRUE(candidate["output_sqnr_db"].is_number()) << candidate;
    if (candidate["output_sqnr_db"].get<double>() > best_sqnr) {
      best_sqnr = candidate["output_sqnr_db"].get<double>();
      best = candidate["method"].get<std::string>();
    }
  }
  EXPECT_EQ(calibration["method"], best);
  // The chosen method, asked for by name, gives the same artifact.
  QuantizationConfig named;
  for (auto method : kAutoCandidates) {
    if (CalibrationMethodName(method) == best) named.calibration.method = method;
  }
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult explicit_method, Quantize(named));
  EXPECT_EQ(automatic.model, explicit_method.model);
  const nlohmann::json named_report = nlohmann::json::parse(explicit_method.report_json);
  EXPECT_EQ(named_report["calibration"]["method"], best);
  EXPECT_FALSE(named_report["calibration"].contains("candidates"));
}

// GPTQ's passes run only the part of the model up to the layers' inputs they need.
TEST(WithOutputsOnlyTest, KeepsWhatTheValuesDependOnAndComputesThemTheSame) {
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(TinyCnn().Serialize()));
  const Graph part = WithOutputsOnly(graph, {"r1"});
  ASSERT_EQ(part.nodes.size(), 2u);
  EXPECT_EQ(part.nodes[0].op_type, "Conv");
  EXPECT_EQ(part.nodes[1].op_type, "Relu");
  ASSERT_EQ(part.outputs.size(), 1u);
  EXPECT_EQ(part.outputs[0].name, "r1");
  EXPECT_NE(part.FindConstant("conv1_w"), nullptr);
  EXPECT_EQ(part.FindConstant("conv2_w"), nullptr);  // read only by what comes after
  EXPECT_EQ(part.FindConstant("fc_w"), nullptr);
  EXPECT_EQ(part.inputs.size(), graph.inputs.size());
  // A graph input asked for alone needs no node; values of both ends of the model together keep
  // every node.
  EXPECT_TRUE(WithOutputsOnly(graph, {"image"}).nodes.empty());
  EXPECT_EQ(WithOutputsOnly(graph, {"r1", "logits"}).nodes.size(), graph.nodes.size());
  const Tensor images = Images(3, 4);
  OCTET_ASSERT_OK_AND_ASSIGN(auto whole, Session::Create(WithExtraOutputs(graph, {"r1"}), {}));
  OCTET_ASSERT_OK_AND_ASSIGN(auto partial, Session::Create(part, {}));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> expected, whole->Run({{"image", images}}, {"r1"}));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, partial->Run({{"image", images}}, {"r1"}));
  ASSERT_EQ(actual[0].shape(), expected[0].shape());
  EXPECT_EQ(0, std::memcmp(actual[0].raw_data(), expected[0].raw_data(), actual[0].byte_size()));
}

// Several candidates compared in one pass (the float model run once per batch for all) get what
// each gets compared alone: the pipeline's calibration choice and its three-way evaluation.
TEST_F(QuantizeTinyCnnTest, ComparingCandidatesTogetherGivesWhatEachGetsAlone) {
  OCTET_ASSERT_OK_AND_ASSIGN(Graph reference, ImportOnnxModel(model_));
  QuantizationConfig coarse;
  coarse.weights.bits = 4;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult fine_result, Quantize({}));
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult coarse_result, Quantize(coarse));
  SampleSet data = Samples(40, 9);
  for (int i = 0; i < data.size(); ++i) data.labels.push_back(i % TinyCnn::kClasses);
  ComparisonRun run;
  run.batch_size = 16;  // the last batch is partial
  run.tensors = {"sum"};
  run.coverage = {{"r1", ValueRange{0.0f, 1.0f}}};
  const Graph* candidates[] = {&fine_result.quantized_graph, &coarse_result.quantized_graph};
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Comparison> together,
                             CompareGraphs(reference, candidates, data, run));
  ASSERT_EQ(together.size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    SCOPED_TRACE(k);
    OCTET_ASSERT_OK_AND_ASSIGN(Comparison alone,
                               CompareGraphs(reference, *candidates[k], data, run));
    const Comparison& c = together[k];
    EXPECT_EQ(c.samples, 40);
    EXPECT_EQ(c.samples, alone.samples);
    EXPECT_EQ(c.output_sqnr_db, alone.output_sqnr_db);
    ASSERT_TRUE(c.reference_top1.has_value() && c.candidate_top1.has_value());
    EXPECT_EQ(c.reference_top1, alone.reference_top1);
    EXPECT_EQ(c.candidate_top1, alone.candidate_top1);
    EXPECT_EQ(c.top1_agreement, alone.top1_agreement);
    ASSERT_EQ(c.outputs.size(), alone.outputs.size());
    EXPECT_EQ(c.outputs[0].cosine, alone.outputs[0].cosine);
    EXPECT_EQ(c.outputs[0].max_abs_error, alone.outputs[0].max_abs_error);
    EXPECT_EQ(c.tensor_sqnr_db, alone.tensor_sqnr_db);
    ASSERT_EQ(c.coverage.size(), 1u);
    EXPECT_EQ(c.coverage[0].values, alone.coverage[0].values);
    EXPECT_EQ(c.coverage[0].out_of_range, alone.coverage[0].out_of_range);
    EXPECT_GT(c.coverage[0].values, 0);
  }
  // The coarse weights are the further from float: the results are the candidates', in order.
  EXPECT_GT(together[0].output_sqnr_db, together[1].output_sqnr_db);
}

// Logits with a long negative tail read only by a Sigmoid through a Resize (a segmentation
// network's last layer): their range is chosen for the error after the Sigmoid (observer_test
// measures that it is smaller there), which keeps the levels near 0 instead of on the tail.
TEST(CalibrationTest, LogitsReadBySigmoidAreCalibratedForTheSigmoidsError) {
  OnnxModelBuilder b;
  b.Input("x", {-1, 1, 4, 4}).Output("y", {-1, 1, 8, 8});
  b.Initializer("w", Tensor::FromVector<float>({1, 1, 1, 1}, {1.0f}));
  b.Initializer("roi", Tensor::FromVector<float>({0}, {}));
  b.Initializer("scales", Tensor::FromVector<float>({4}, {1, 1, 2, 2}));
  b.Node("Conv", {"x", "w"}, {"logits"});
  b.Node("Resize", {"logits", "roi", "scales"}, {"resized"});
  b.Node("Sigmoid", {"resized"}, {"y"});
  // Most pixels far below 0 (background at -200 to -1000), a few near the decision.
  std::vector<float> values;
  std::mt19937 generator(3);
  std::uniform_real_distribution<float> background(-1000.0f, -200.0f), edge(-6.0f, 6.0f);
  for (int i = 0; i < 64 * 16; ++i) {
    values.push_back(i % 4 == 0 ? edge(generator) : background(generator));
  }
  SampleSet samples;
  samples.inputs.emplace_back("x", Tensor::FromVector<float>({64, 1, 4, 4}, values));
  const std::string model = b.Serialize();
  QuantizationRequest request;
  request.model = model;
  request.config.calibration.method = CalibrationMethod::kMse;
  request.calibration = &samples;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, QuantizeModel(request));
  const nlohmann::json report = nlohmann::json::parse(result.report_json);
  const nlohmann::json& logits = report["tensors"]["logits"];
  EXPECT_EQ(logits["range_error_space"], "sigmoid") << logits;
  EXPECT_GT(logits["range"][0].get<float>(), -100.0f) << logits;
  EXPECT_GT(logits["range"][1].get<float>(), 5.0f) << logits;
  // The input is read by the Conv itself: its error counts as it is.
  EXPECT_FALSE(report["tensors"]["x"].contains("range_error_space"));
}

// A constant region (the black border of a letterboxed image, a flat background) rounds to the
// same level at every pixel, a shift the next layer's output keeps on average; bias correction
// takes it out with the inputs' quantized channel means (W_q E[Q(x)] - W E[x]).
TEST(BiasCorrectionTest, RemovesTheShiftTheInputsRoundingLeaves) {
  OnnxModelBuilder b;
  b.Input("x", {-1, 2, 6, 6}).Output("y", {-1, 2, 6, 6});
  b.Initializer("w", Tensor::FromVector<float>({2, 2, 1, 1}, {1.0f, 0.5f, -0.25f, 1.0f}));
  b.Initializer("b", Tensor::FromVector<float>({2}, {0.1f, -0.2f}));
  b.Node("Conv", {"x", "w", "b"}, {"y"});
  // Mostly a constant 0.3 / 0.7 the range's grid misses (the range is set by rare values up to
  // 9), a few random values.
  std::vector<float> values;
  std::mt19937 generator(11);
  std::uniform_real_distribution<float> spread(0.0f, 9.0f);
  for (int n = 0; n < 32; ++n) {
    for (int c = 0; c < 2; ++c) {
      for (int i = 0; i < 36; ++i)
        values.push_back(i % 12 == 0 ? spread(generator) : 0.3f + 0.4f * c);
    }
  }
  SampleSet samples;
  samples.inputs.emplace_back("x", Tensor::FromVector<float>({32, 2, 6, 6}, values));
  const std::string model = b.Serialize();
  OCTET_ASSERT_OK_AND_ASSIGN(Graph reference, ImportOnnxModel(model));
  const std::vector<float> expected = RunModel(reference, samples.inputs[0].second, "x");
  // The mean difference of channel 0's output from float over the samples.
  auto mean_shift = [&](bool bias_correction) {
    QuantizationRequest request;
    request.model = model;
    request.config.calibration.method = CalibrationMethod::kMinMax;
    request.config.weights.rounding = Rounding::kNearest;
    request.config.bias_correction = bias_correction;
    request.calibration = &samples;
    absl::StatusOr<QuantizationResult> result = QuantizeModel(request);
    EXPECT_THAT(result, IsOk());
    const std::vector<float> got = RunModel(result->quantized_graph, samples.inputs[0].second, "x");
    double shift = 0.0;
    for (int n = 0; n < 32; ++n) {
      for (int i = 0; i < 36; ++i) shift += got[n * 72 + i] - expected[n * 72 + i];
    }
    return shift / (32 * 36);
  };
  const double plain = mean_shift(false), corrected = mean_shift(true);
  EXPECT_GT(std::abs(plain), 0.005);
  EXPECT_LT(std::abs(corrected), 0.1 * std::abs(plain)) << plain << " -> " << corrected;
}

}  // namespace
}  // namespace octet
