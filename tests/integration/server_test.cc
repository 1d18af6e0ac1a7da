// octetd started for real on loopback: uploads, versions, restarts, KServe inference, metrics,
// health, reflection, and every refusal a careless or hostile client can provoke.
#include <signal.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/base/status_matchers.h"
#include "engine/quant/gptq_rounding.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "inference/open_inference_grpc.grpc.pb.h"
#include "octet/v1/model_service.grpc.pb.h"
#include "tests/testing/octetd_process.h"
#include "tests/testing/onnx_model_builder.h"
#include "tests/testing/temp_dir.h"

namespace octet {
namespace {

using ::octet::testing::MetricValue;
using ::octet::testing::OctetdProcess;
using ::octet::testing::PseudoRandom;
using ::octet::testing::TempDir;
using ::octet::testing::TinyCnn;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }

  void Start(const std::vector<std::string>& flags = {}) {
    absl::StatusOr<std::unique_ptr<OctetdProcess>> process =
        OctetdProcess::Start(OCTETD_PATH, data_dir(), flags);
    ASSERT_THAT(process, ::octet::testing::IsOk());
    server_ = *std::move(process);
    channel_ = grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials());
    models_ = octet::v1::ModelService::NewStub(channel_);
    inference_ = inference::GRPCInferenceService::NewStub(channel_);
  }

  void Restart(const std::vector<std::string>& flags = {}) {
    EXPECT_EQ(server_->Stop(SIGTERM), 0);
    Start(flags);
  }

  std::string data_dir() const { return dir_.path() + "/data"; }
  int StoredFiles() const { return dir_.CountFiles("data/blobs") + dir_.CountFiles("data/tmp"); }

  // Uploads `bytes` in chunks of `chunk` bytes.
  grpc::Status Upload(const std::string& name, const std::string& bytes, bool new_version = false,
                      octet::v1::UploadModelResponse* response = nullptr, size_t chunk = 4096) {
    grpc::ClientContext context;
    octet::v1::UploadModelResponse ignored;
    auto writer = models_->UploadModel(&context, response != nullptr ? response : &ignored);
    octet::v1::UploadModelRequest message;
    message.mutable_header()->set_name(name);
    message.mutable_header()->set_new_version(new_version);
    writer->Write(message);
    for (size_t at = 0; at < bytes.size(); at += chunk) {
      message.set_chunk(bytes.substr(at, chunk));
      if (!writer->Write(message)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  inference::ModelInferRequest ImageRequest(const std::string& model,
                                            const std::vector<float>& images, int batch) {
    inference::ModelInferRequest request;
    request.set_model_name(model);
    request.set_id("request-7");
    auto* input = request.add_inputs();
    input->set_name("image");
    input->set_datatype("FP32");
    for (int64_t d : {int64_t{batch}, int64_t{1}, int64_t{8}, int64_t{8}}) input->add_shape(d);
    request.add_raw_input_contents(reinterpret_cast<const char*>(images.data()),
                                   images.size() * sizeof(float));
    return request;
  }

  grpc::Status Infer(const inference::ModelInferRequest& request,
                     inference::ModelInferResponse* response) {
    grpc::ClientContext context;
    return inference_->ModelInfer(&context, request, response);
  }

  static std::vector<float> Floats(const std::string& bytes) {
    std::vector<float> values(bytes.size() / sizeof(float));
    std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
    return values;
  }

  static void ExpectClose(const std::vector<float>& actual, const std::vector<float>& expected) {
    ASSERT_EQ(actual.size(), expected.size());
    float scale = 0;
    for (float v : expected) scale = std::max(scale, std::abs(v));
    for (size_t i = 0; i < actual.size(); ++i) {
      EXPECT_NEAR(actual[i], expected[i], 1e-5 * scale) << "at " << i;
    }
  }

  TempDir dir_;
  std::unique_ptr<OctetdProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<octet::v1::ModelService::Stub> models_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> inference_;
  TinyCnn cnn_;
};

TEST_F(ServerTest, UploadSurvivesRestartAndServesRawAndTypedInferenceWithMetrics) {
  octet::v1::UploadModelResponse uploaded;
  ASSERT_TRUE(Upload("tiny", cnn_.Serialize(), false, &uploaded).ok());
  EXPECT_TRUE(uploaded.created());
  EXPECT_EQ(uploaded.version().version(), 1);
  ASSERT_EQ(uploaded.version().inputs_size(), 1);
  EXPECT_THAT(uploaded.version().inputs(0).shape(), ElementsAre(-1, 1, 8, 8));
  EXPECT_EQ(uploaded.version().inputs(0).dim_names(0), "N");

  Restart();
  {
    grpc::ClientContext context;
    octet::v1::ListModelsResponse list;
    ASSERT_TRUE(models_->ListModels(&context, {}, &list).ok());
    ASSERT_EQ(list.models_size(), 1);
    EXPECT_EQ(list.models(0).name(), "tiny");
    EXPECT_EQ(list.models(0).versions(0).sha256(), uploaded.version().sha256());
  }

  const std::string before = *testing::HttpGet(server_->metrics_port(), "/metrics");
  const std::vector<float> images = PseudoRandom(3 * 64, 11);
  inference::ModelInferResponse raw;
  ASSERT_TRUE(Infer(ImageRequest("tiny", images, 3), &raw).ok());
  EXPECT_EQ(raw.id(), "request-7");
  EXPECT_EQ(raw.model_version(), "1");
  ASSERT_EQ(raw.outputs_size(), 1);
  EXPECT_EQ(raw.outputs(0).name(), "logits");
  EXPECT_EQ(raw.outputs(0).datatype(), "FP32");
  EXPECT_THAT(raw.outputs(0).shape(), ElementsAre(3, 10));
  ExpectClose(Floats(raw.raw_output_contents(0)), cnn_.Reference(images, 3));

  inference::ModelInferRequest typed = ImageRequest("tiny", images, 1);
  typed.clear_raw_input_contents();
  for (int i = 0; i < 64; ++i)
    typed.mutable_inputs(0)->mutable_contents()->add_fp32_contents(images[i]);
  typed.add_outputs()->set_name("logits");
  inference::ModelInferResponse typed_response;
  ASSERT_TRUE(Infer(typed, &typed_response).ok());
  ExpectClose(Floats(typed_response.raw_output_contents(0)),
              cnn_.Reference(std::vector<float>(images.begin(), images.begin() + 64), 1));

  const std::string after = *testing::HttpGet(server_->metrics_port(), "/metrics");
  const std::vector<std::string> infer_ok = {"method=\"inference.GRPCInferenceService/ModelInfer\"",
                                             "code=\"OK\""};
  EXPECT_EQ(MetricValue(after, "octet_grpc_requests_total", infer_ok) -
                MetricValue(before, "octet_grpc_requests_total", infer_ok),
            2);
  const std::vector<std::string> infer = {"method=\"inference.GRPCInferenceService/ModelInfer\""};
  EXPECT_EQ(MetricValue(after, "octet_grpc_request_duration_seconds_count", infer) -
                MetricValue(before, "octet_grpc_request_duration_seconds_count", infer),
            2);
  EXPECT_EQ(MetricValue(after, "octet_inference_requests_total",
                        {"model=\"tiny\"", "version=\"1\"", "precision=\"float\"", "code=\"OK\""}),
            2);
}

TEST_F(ServerTest, VersionsFollowTheArchitecture) {
  const std::string v1 = cnn_.Serialize();
  TinyCnn other;
  other.fc_b[0] += 1.0f;
  const std::string v2 = other.Serialize();
  ASSERT_TRUE(Upload("m", v1).ok());
  octet::v1::UploadModelResponse again;
  ASSERT_TRUE(Upload("m", v1, false, &again).ok());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.version().version(), 1);
  const grpc::Status taken = Upload("m", v2);
  EXPECT_EQ(taken.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(taken.error_message(), HasSubstr("new_version"));
  EXPECT_EQ(StoredFiles(), 1);
  octet::v1::UploadModelResponse second;
  ASSERT_TRUE(Upload("m", v2, true, &second).ok());
  EXPECT_EQ(second.version().version(), 2);

  // The default stays on version 1 until moved.
  const std::vector<float> image = PseudoRandom(64, 3);
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(ImageRequest("m", image, 1), &response).ok());
  EXPECT_EQ(response.model_version(), "1");
  {
    grpc::ClientContext context;
    octet::v1::SetDefaultVersionRequest request;
    request.set_name("m");
    request.set_version(2);
    octet::v1::Model model;
    ASSERT_TRUE(models_->SetDefaultVersion(&context, request, &model).ok());
    EXPECT_EQ(model.default_version(), 2);
  }
  inference::ModelInferResponse moved;
  ASSERT_TRUE(Infer(ImageRequest("m", image, 1), &moved).ok());
  EXPECT_EQ(moved.model_version(), "2");
  EXPECT_NEAR(Floats(moved.raw_output_contents(0))[0] - Floats(response.raw_output_contents(0))[0],
              1.0f, 1e-4);

  // Download gives back the exact bytes.
  grpc::ClientContext context;
  octet::v1::DownloadModelRequest request;
  request.set_name("m");
  request.set_version(1);
  auto reader = models_->DownloadModel(&context, request);
  octet::v1::DownloadModelResponse chunk;
  std::string downloaded;
  while (reader->Read(&chunk)) downloaded += chunk.chunk();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(downloaded, v1);
}

// A QDQ model made elsewhere (as after quantization-aware training): x -> Q/DQ (scale 0.05, zero
// point 128) -> MatMul with int8 weights dequantized per output column.
// `largest` is the weight that decides whether CPUs without VNNI run the MatMul in int8 (up to
// 64) or leave it in float.
std::string QdqMatMulModel(int8_t largest = 127) {
  ::octet::testing::OnnxModelBuilder b;
  b.Input("x", {-1, 2}).Output("y", {-1, 2});
  b.Initializer("x_scale", Tensor::FromVector<float>({}, {0.05f}));
  b.Initializer("x_zero", Tensor::FromVector<uint8_t>({}, {128}));
  b.Initializer("w_q", Tensor::FromVector<int8_t>({2, 2}, {10, -20, largest, 5}));
  b.Initializer("w_scale", Tensor::FromVector<float>({2}, {0.5f, 0.25f}));
  b.Initializer("w_zero", Tensor::FromVector<int8_t>({2}, {0, 0}));
  b.Node("QuantizeLinear", {"x", "x_scale", "x_zero"}, {"x_q"});
  b.Node("DequantizeLinear", {"x_q", "x_scale", "x_zero"}, {"x_dq"});
  ::octet::testing::SetAttribute(b.Node("DequantizeLinear", {"w_q", "w_scale", "w_zero"}, {"w"}),
                                 "axis", int64_t{1});
  b.Node("MatMul", {"x_dq", "w"}, {"y"});
  return b.Serialize();
}

TEST_F(ServerTest, ServesQdqModelsMadeElsewhereAsInt8WithTheirOwnScales) {
  octet::v1::UploadModelResponse uploaded;
  ASSERT_TRUE(Upload("qat", QdqMatMulModel(), false, &uploaded).ok());
  EXPECT_EQ(uploaded.version().precision(), octet::v1::PRECISION_INT8);
  inference::ModelInferRequest request;
  request.set_model_name("qat");
  auto* input = request.add_inputs();
  input->set_name("x");
  input->set_datatype("FP32");
  input->add_shape(1);
  input->add_shape(2);
  // 0.52 quantizes to round(10.4) = 10 steps -> 0.5; -1.0 to -20 steps -> -1.0.
  const std::vector<float> x = {0.52f, -1.0f};
  request.add_raw_input_contents(reinterpret_cast<const char*>(x.data()), sizeof(float) * 2);
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(request, &response).ok());
  // y0 = 0.5 * 5 + (-1.0) * 63.5 = -61;  y1 = 0.5 * -5 + (-1.0) * 1.25 = -3.75.
  EXPECT_THAT(Floats(response.raw_output_contents(0)), ElementsAre(-61.0f, -3.75f));
}

// DescribeRuntime tells a client how the server runs a version: the plan's steps with their
// implementations and layouts, and what runs in int8 or stays in float, with the reason.
TEST_F(ServerTest, DescribesHowAVersionRunsAndWhatRunsInInt8) {
  ASSERT_TRUE(Upload("qat", QdqMatMulModel(), false).ok());
  ASSERT_TRUE(Upload("qat7", QdqMatMulModel(63), false).ok());
  auto describe = [&](const octet::v1::DescribeRuntimeRequest& request,
                      octet::v1::ModelRuntime* runtime) {
    grpc::ClientContext context;
    return models_->DescribeRuntime(&context, request, runtime);
  };
  octet::v1::DescribeRuntimeRequest request;
  request.set_name("qat7");
  request.set_batch_size(3);
  octet::v1::ModelRuntime runtime;
  ASSERT_TRUE(describe(request, &runtime).ok());
  EXPECT_EQ(runtime.version(), 1);
  // Weights within 7 bits: int8 on every CPU, described with oneDNN's implementation.
  ASSERT_EQ(runtime.int8_nodes_size(), 1);
  EXPECT_THAT(runtime.int8_nodes(0), HasSubstr("Int8MatMul"));
  EXPECT_EQ(runtime.simulated_nodes_size(), 0);
  bool found = false;
  for (const octet::v1::RuntimeStep& step : runtime.steps()) {
    if (step.op_type() != "Int8MatMul") continue;
    found = true;
    EXPECT_FALSE(step.implementation().empty());
    EXPECT_THAT(step.inputs(0), HasSubstr("uint8"));
    EXPECT_THAT(step.inputs(0), HasSubstr("3"));  // the batch given
    EXPECT_THAT(step.notes(), HasSubstr("source zero point 128"));
  }
  EXPECT_TRUE(found);
  // A weight of 127: lowered where VNNI makes it exact, otherwise left in float saying why.
  request.set_name("qat");
  runtime.Clear();
  ASSERT_TRUE(describe(request, &runtime).ok());
  ASSERT_EQ(runtime.int8_nodes_size() + runtime.simulated_nodes_size(), 1);
  if (runtime.simulated_nodes_size() == 1) {
    EXPECT_THAT(runtime.simulated_nodes(0), HasSubstr("VNNI"));
  }
  // Refusals name the problem.
  struct Case {
    std::function<void(octet::v1::DescribeRuntimeRequest&)> edit;
    grpc::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.set_name("missing"); }, grpc::StatusCode::NOT_FOUND, "missing"},
      {[](auto& r) { r.set_version(9); }, grpc::StatusCode::NOT_FOUND, "9"},
      {[](auto& r) { r.set_batch_size(5000); }, grpc::StatusCode::INVALID_ARGUMENT, "batch_size"},
      {[](auto& r) { r.add_input_shapes()->set_name("z"); }, grpc::StatusCode::INVALID_ARGUMENT,
       "unknown input 'z'"},
      {[](auto& r) {
         auto* s = r.add_input_shapes();
         s->set_name("x");
         s->add_dims(4);
         s->add_dims(3);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "dimension 1 is 2"},
      {[](auto& r) {
         auto* s = r.add_input_shapes();
         s->set_name("x");
         s->add_dims(int64_t{1} << 40);
         s->add_dims(2);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "out of range"},
      {[](auto& r) {
         auto* s = r.add_input_shapes();
         s->set_name("x");
         s->add_dims(int64_t{1} << 27);  // 1 GiB of float32
         s->add_dims(2);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "exceed 256 MiB"},
  };
  for (const Case& c : cases) {
    octet::v1::DescribeRuntimeRequest bad;
    bad.set_name("qat7");
    c.edit(bad);
    const grpc::Status status = describe(bad, &runtime);
    EXPECT_EQ(status.error_code(), c.code) << c.message << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
}

TEST_F(ServerTest, BadUploadsAreRefusedAndLeaveNothingBehind) {
  struct Case {
    std::string name, bytes;
    grpc::StatusCode code;
    std::string message;
  };
  testing::OnnxModelBuilder celu;
  celu.Input("x", {1, 4}).Output("y", {1, 4});
  celu.Node("Celu", {"x"}, {"y"});
  const std::vector<Case> cases = {
      {"garbage", std::string("\x08\x96\x01 this is not onnx \xff\xfe", 22),
       grpc::StatusCode::INVALID_ARGUMENT, "not an ONNX model"},
      {"empty", "", grpc::StatusCode::INVALID_ARGUMENT, "the upload is empty"},
      {"big", std::string(200000, 'x'), grpc::StatusCode::RESOURCE_EXHAUSTED,
       "exceeds the limit of 100000 bytes"},
      {"a/b", cnn_.Serialize(), grpc::StatusCode::INVALID_ARGUMENT, "header.name"},
      {"..", cnn_.Serialize(), grpc::StatusCode::INVALID_ARGUMENT, "header.name"},
      {"celu", celu.Serialize(), grpc::StatusCode::INVALID_ARGUMENT,
       "unsupported operators: Celu (e.g. Celu 'Celu_1')"},
  };
  Restart({"--max_model_bytes=100000"});
  for (const Case& c : cases) {
    const grpc::Status status = Upload(c.name, c.bytes);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
    EXPECT_EQ(StoredFiles(), 0) << c.name;
  }
  // A stream that sends chunks without a header.
  {
    grpc::ClientContext context;
    octet::v1::UploadModelResponse response;
    auto writer = models_->UploadModel(&context, &response);
    octet::v1::UploadModelRequest message;
    message.set_chunk("bytes");
    writer->Write(message);
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("must be a header"));
  }
  grpc::ClientContext context;
  octet::v1::ListModelsResponse list;
  ASSERT_TRUE(models_->ListModels(&context, {}, &list).ok());
  EXPECT_EQ(list.models_size(), 0);
  EXPECT_TRUE(server_->Running());
}

TEST_F(ServerTest, BadInferenceRequestsGetTheRightCodeNamingTheProblem) {
  ASSERT_TRUE(Upload("tiny", cnn_.Serialize()).ok());
  const std::vector<float> image = PseudoRandom(64, 5);
  struct Case {
    std::string what;
    inference::ModelInferRequest request;
    grpc::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  {
    auto r = ImageRequest("tiny", image, 1);
    r.mutable_inputs(0)->set_shape(3, 9);
    r.set_raw_input_contents(0, std::string(8 * 9 * 4, '\0'));
    cases.push_back({"shape", r, grpc::StatusCode::INVALID_ARGUMENT,
                     "input 'image' must have shape [N, 1, 8, 8], got [1, 1, 8, 9]"});
  }
  {
    auto r = ImageRequest("tiny", image, 1);
    r.mutable_inputs(0)->set_datatype("FP64");
    r.set_raw_input_contents(0, std::string(64 * 8, '\0'));
    cases.push_back({"datatype", r, grpc::StatusCode::INVALID_ARGUMENT,
                     "input 'image' must be float32, got float64"});
  }
  {
    auto r = ImageRequest("tiny", image, 1);
    r.clear_inputs();
    r.clear_raw_input_contents();
    cases.push_back({"missing", r, grpc::StatusCode::INVALID_ARGUMENT, "missing input 'image'"});
  }
  {
    auto r = ImageRequest("tiny", image, 1);
    r.add_outputs()->set_name("probabilities");
    cases.push_back(
        {"output", r, grpc::StatusCode::INVALID_ARGUMENT, "unknown output 'probabilities'"});
  }
  {
    auto r = ImageRequest("tiny", image, 1);
    r.set_raw_input_contents(0, "short");
    cases.push_back(
        {"raw size", r, grpc::StatusCode::INVALID_ARGUMENT, "raw_input_contents[0] has 5 bytes"});
  }
  cases.push_back({"model", ImageRequest("nope", image, 1), grpc::StatusCode::NOT_FOUND,
                   "model 'nope' not found"});
  {
    auto r = ImageRequest("tiny", image, 1);
    r.set_model_version("4");
    cases.push_back(
        {"version", r, grpc::StatusCode::NOT_FOUND, "model 'tiny' has no version 4 (versions: 1)"});
  }
  {
    auto r = ImageRequest("tiny", image, 1);
    r.set_model_version("latest");
    cases.push_back({"version text", r, grpc::StatusCode::INVALID_ARGUMENT,
                     "model_version 'latest' is not a positive version number"});
  }
  for (const Case& c : cases) {
    inference::ModelInferResponse response;
    const grpc::Status status = Infer(c.request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.what;
  }
  inference::ModelInferResponse response;
  EXPECT_TRUE(Infer(ImageRequest("tiny", image, 1), &response).ok());
  EXPECT_TRUE(server_->Running());
}

TEST_F(ServerTest, ConcurrentInferenceGivesEachCallerItsOwnAnswer) {
  ASSERT_TRUE(Upload("tiny", cnn_.Serialize()).ok());
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const int batch = 1 + (t + i) % 3;
        const std::vector<float> images = PseudoRandom(batch * 64, 100 * t + i);
        const std::vector<float> expected = cnn_.Reference(images, batch);
        inference::ModelInferResponse response;
        const grpc::Status status = Infer(ImageRequest("tiny", images, batch), &response);
        if (!status.ok()) {
          ADD_FAILURE() << status.error_message();
          ++wrong[t];
          continue;
        }
        const std::vector<float> got = Floats(response.raw_output_contents(0));
        for (size_t k = 0; k < got.size(); ++k) {
          if (std::abs(got[k] - expected[k]) > 1e-4f * (1 + std::abs(expected[k]))) {
            ++wrong[t];
            break;
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(wrong, ::testing::Each(0));
}

TEST_F(ServerTest, ServesHealthMetadataAndReflection) {
  {
    auto health = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, {}, &response).ok());
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  {
    grpc::ClientContext context;
    inference::ServerReadyResponse ready;
    ASSERT_TRUE(inference_->ServerReady(&context, {}, &ready).ok());
    EXPECT_TRUE(ready.ready());
  }
  ASSERT_TRUE(Upload("tiny", cnn_.Serialize()).ok());
  {
    grpc::ClientContext context;
    inference::ModelMetadataRequest request;
    request.set_name("tiny");
    inference::ModelMetadataResponse metadata;
    ASSERT_TRUE(inference_->ModelMetadata(&context, request, &metadata).ok());
    EXPECT_THAT(metadata.versions(), ElementsAre("1"));
    ASSERT_EQ(metadata.inputs_size(), 1);
    EXPECT_EQ(metadata.inputs(0).datatype(), "FP32");
    EXPECT_THAT(metadata.inputs(0).shape(), ElementsAre(-1, 1, 8, 8));
    EXPECT_EQ(metadata.outputs(0).name(), "logits");
  }
  {
    grpc::ClientContext context;
    inference::ModelReadyRequest request;
    request.set_name("tiny");
    inference::ModelReadyResponse ready;
    ASSERT_TRUE(inference_->ModelReady(&context, request, &ready).ok());
    EXPECT_TRUE(ready.ready());
  }
  // Server reflection, spoken at the wire level: ServerReflectionRequest{list_services: "*"}.
  grpc::GenericStub generic(channel_);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  auto call = generic.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(queue.Next(&tag, &ok) && ok);
  const std::string request("\x3a\x01*", 3);
  grpc::Slice slice(request);
  call->Write(grpc::ByteBuffer(&slice, 1), reinterpret_cast<void*>(2));
  ASSERT_TRUE(queue.Next(&tag, &ok) && ok);
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(3));
  ASSERT_TRUE(queue.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_THAT(bytes, HasSubstr("inference.GRPCInferenceService"));
  EXPECT_THAT(bytes, HasSubstr("octet.v1.ModelService"));
  context.TryCancel();
  call->Finish(nullptr, reinterpret_cast<void*>(4));
  grpc::Status finish_status;
  while (queue.Next(&tag, &ok)) {
    if (tag == reinterpret_cast<void*>(4)) break;
  }
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
}

TEST_F(ServerTest, RefusesToStartOnAPortAnotherServerHolds) {
  // Without SO_REUSEPORT off, the second octetd would start and take half the connections.
  absl::StatusOr<std::unique_ptr<OctetdProcess>> second = OctetdProcess::Start(
      OCTETD_PATH, dir_.path() + "/second", {"--grpc_address=" + server_->target()});
  EXPECT_THAT(second.status(), ::octet::testing::StatusIs(absl::StatusCode::kInternal,
                                                          HasSubstr("exited during start")));
  for (int i = 0; i < 8; ++i) {  // every new connection still reaches the first server
    auto channel = grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials());
    grpc::ClientContext context;
    octet::v1::ListModelsResponse response;
    EXPECT_TRUE(octet::v1::ModelService::NewStub(channel)
                    ->ListModels(&context, octet::v1::ListModelsRequest(), &response)
                    .ok());
  }
}

// On a CPU newer than OpenBLAS, octetd starts itself again (the same process) with
// OPENBLAS_CORETYPE naming the CPU's AVX kernels for GPTQ.
TEST_F(ServerTest, NamesOpenBlasKernelsOnACpuOpenBlasDoesNotKnow) {
  std::ifstream file(absl::StrCat("/proc/", server_->pid(), "/environ"), std::ios::binary);
  const std::string environ((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
  const std::vector<std::string> variables = absl::StrSplit(environ, '\0', absl::SkipEmpty());
  // This test links the same OpenBLAS and runs on the same CPU and environment.
  const std::string core = LinearAlgebraCoreTypeToSet();
  if (core.empty()) {
    if (std::getenv("OPENBLAS_CORETYPE") == nullptr) {
      EXPECT_THAT(variables, Not(Contains(StartsWith("OPENBLAS_CORETYPE="))));
    }
    GTEST_SKIP() << "OpenBLAS runs its " << LinearAlgebraKernels()
                 << " kernels here (or OPENBLAS_CORETYPE is set): octetd has nothing to name";
  }
  EXPECT_THAT(variables, Contains("OPENBLAS_CORETYPE=" + core));
  EXPECT_TRUE(server_->Running()) << server_->State();
  // Started again by its own path, it keeps its name (pgrep octetd finds it).
  std::ifstream comm(absl::StrCat("/proc/", server_->pid(), "/comm"));
  std::string name;
  std::getline(comm, name);
  EXPECT_EQ(name, "octetd");
}

// octetd's malloc is TCMalloc's, which keeps large freed buffers for the next batch (glibc maps
// and the kernel zero-fills every block over 32 MiB afresh): linked, not preloaded.
TEST_F(ServerTest, AllocatesWithTcmalloc) {
  std::ifstream maps(absl::StrCat("/proc/", server_->pid(), "/maps"));
  const std::string mapped((std::istreambuf_iterator<char>(maps)),
                           std::istreambuf_iterator<char>());
  EXPECT_THAT(mapped, HasSubstr("libtcmalloc_minimal.so"));
}

TEST_F(ServerTest, SigtermDrainsAndExitsCleanly) { EXPECT_EQ(server_->Stop(SIGTERM), 0); }

}  // namespace
}  // namespace octet
