// A real Prometheus server scrapes a real octetd: the exposition is valid for Prometheus, and the
// counters it stores rise by exactly the requests made.
#include <unistd.h>

#include <chrono>

#include "engine/base/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "inference/open_inference_grpc.grpc.pb.h"
#include "octet/v1/model_service.grpc.pb.h"
#include "tests/testing/octetd_process.h"
#include "tests/testing/prometheus_process.h"
#include "tests/testing/onnx_model_builder.h"
#include "tests/testing/temp_dir.h"

namespace octet {
namespace {

using ::octet::testing::kPrometheusBinary;
using ::octet::testing::OctetdProcess;
using ::octet::testing::PrometheusProcess;
using ::octet::testing::TempDir;

TEST(PrometheusTest, ScrapesOctetdAndSeesEveryInferenceRequest) {
  ASSERT_EQ(access(kPrometheusBinary, X_OK), 0) << "install the prometheus package (scripts/setup.sh --tests)";
  TempDir dir;
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<OctetdProcess> octetd,
                             OctetdProcess::Start(OCTETD_PATH, dir.path() + "/data"));
  PrometheusProcess prometheus(dir.path(), octetd->metrics_port());

  auto channel = grpc::CreateChannel(octetd->target(), grpc::InsecureChannelCredentials());
  auto models = octet::v1::ModelService::NewStub(channel);
  auto inference = inference::GRPCInferenceService::NewStub(channel);
  {
    grpc::ClientContext context;
    octet::v1::UploadModelResponse response;
    auto writer = models->UploadModel(&context, &response);
    octet::v1::UploadModelRequest message;
    message.mutable_header()->set_name("tiny");
    writer->Write(message);
    message.set_chunk(testing::TinyCnn().Serialize());
    writer->Write(message);
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
  }
  inference::ModelInferRequest request;
  request.set_model_name("tiny");
  auto* input = request.add_inputs();
  input->set_name("image");
  input->set_datatype("FP32");
  for (int64_t d : {1, 1, 8, 8}) input->add_shape(d);
  request.add_raw_input_contents(std::string(64 * sizeof(float), '\0'));
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    inference::ModelInferResponse response;
    ASSERT_TRUE(inference->ModelInfer(&context, request, &response).ok());
  }
  request.set_model_version("9");
  grpc::ClientContext context;
  inference::ModelInferResponse response;
  ASSERT_EQ(inference->ModelInfer(&context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);

  const auto timeout = std::chrono::seconds(60);
  EXPECT_EQ(prometheus.WaitForValue("up{job=\"octetd\"}", 1, timeout), 1);
  EXPECT_EQ(prometheus.WaitForValue(
                "octet_inference_requests_total{model=\"tiny\",version=\"1\",code=\"OK\"}", 3,
                timeout),
            3);
  EXPECT_EQ(prometheus.WaitForValue(
                "octet_grpc_requests_total{method=\"inference.GRPCInferenceService/ModelInfer\","
                "code=\"NOT_FOUND\"}",
                1, timeout),
            1);
  EXPECT_EQ(prometheus.WaitForValue(
                "sum(octet_inference_request_duration_seconds_count{model=\"tiny\"})", 3, timeout),
            3);
}

}  // namespace
}  // namespace octet
