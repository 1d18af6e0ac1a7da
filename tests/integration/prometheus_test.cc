// A real Prometheus server scrapes a real octetd: the exposition is valid for Prometheus, and the
// counters it stores rise by exactly the requests made.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "engine/base/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "inference/open_inference_grpc.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "octet/v1/model_service.grpc.pb.h"
#include "tests/testing/octetd_process.h"
#include "tests/testing/onnx_model_builder.h"
#include "tests/testing/temp_dir.h"

namespace octet {
namespace {

using ::octet::testing::OctetdProcess;
using ::octet::testing::TempDir;

constexpr char kPrometheus[] = "/usr/bin/prometheus";

// A port that was free a moment ago (Prometheus cannot report one it picked itself).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& dir, int scrape_port) : port_(FreePort()) {
    const std::string config = dir + "/prometheus.yml";
    std::ofstream(config) << "global:\n  scrape_interval: 1s\nscrape_configs:\n"
                          << "  - job_name: octetd\n    static_configs:\n"
                          << "      - targets: ['127.0.0.1:" << scrape_port << "']\n";
    const std::string log = dir + "/prometheus.log";
    pid_ = fork();
    if (pid_ == 0) {
      freopen(log.c_str(), "w", stdout);
      freopen(log.c_str(), "w", stderr);
      execl(kPrometheus, kPrometheus, ("--config.file=" + config).c_str(),
            ("--storage.tsdb.path=" + dir + "/tsdb").c_str(),
            ("--web.listen-address=127.0.0.1:" + std::to_string(port_)).c_str(), nullptr);
      _exit(127);
    }
  }
  ~PrometheusProcess() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }

  // The value of the instant query's first sample, once it equals `expected` (polling), or the
  // last value seen after `timeout`.
  double WaitForValue(const std::string& query, double expected, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    double value = -1;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string encoded;
      for (char c : query) {
        if (isalnum(static_cast<unsigned char>(c)) || c == '_') {
          encoded += c;
        } else {
          char hex[4];
          snprintf(hex, sizeof(hex), "%%%02X", static_cast<unsigned char>(c));
          encoded += hex;
        }
      }
      absl::StatusOr<std::string> body = testing::HttpGet(port_, "/api/v1/query?query=" + encoded);
      if (body.ok()) {
        const nlohmann::json reply = nlohmann::json::parse(*body, nullptr, false);
        if (!reply.is_discarded() && reply.value("status", "") == "success" &&
            !reply["data"]["result"].empty()) {
          value = std::stod(reply["data"]["result"][0]["value"][1].get<std::string>());
          if (value == expected) return value;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return value;
  }

 private:
  int port_;
  pid_t pid_;
};

TEST(PrometheusTest, ScrapesOctetdAndSeesEveryInferenceRequest) {
  ASSERT_EQ(access(kPrometheus, X_OK), 0) << "install the prometheus package (scripts/setup.sh --tests)";
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
