// The serving path of a real octetd on loopback under concurrent load: dynamic batching gives
// every request what it gets alone (byte for byte on the int8 path), a full queue refuses with
// RESOURCE_EXHAUSTED while the accepted requests succeed and health checks answer, and a version
// deleted under load never leaves a request hanging.
#include <signal.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "client/load_generator.h"
#include "client/octet_client.h"
#include "engine/base/status_matchers.h"
#include "engine/quant/post_training_quantizer.h"
#include "engine/runtime/cpu/cpu_features.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/octetd_process.h"
#include "tests/testing/onnx_model_builder.h"
#include "tests/testing/temp_dir.h"

namespace octet {
namespace {

using ::octet::client::LoadOptions;
using ::octet::client::LoadResult;
using ::octet::client::OctetClient;
using ::octet::testing::IsOk;
using ::octet::testing::MetricValue;
using ::octet::testing::OctetdProcess;
using ::octet::testing::PseudoRandom;
using ::octet::testing::TempDir;
using ::octet::testing::TinyCnn;
using ::testing::HasSubstr;

Tensor Images(int64_t count, uint32_t seed) {
  std::vector<float> values = PseudoRandom(static_cast<size_t>(count) * 64, seed);
  for (float& v : values) v = (v + 1.0f) / 2.0f;
  return Tensor::FromVector<float>({count, 1, 8, 8}, values);
}

// `concurrency` closed loops sending `rows` images (seeded by `seed`) to "tiny" for `duration`,
// counted from the start.
LoadOptions TinyLoad(int64_t rows, uint32_t seed, int concurrency, absl::Duration duration) {
  LoadOptions load;
  load.model = "tiny";
  load.inputs = {{"image", Images(rows, seed)}};
  load.concurrency = concurrency;
  load.warmup = absl::ZeroDuration();
  load.duration = duration;
  return load;
}

// TinyCnn quantized by Octet's own PTQ with the weight precision a job targeting this CPU takes
// (8 bits with VNNI, 7 without): a QDQ model whose convolutions and Gemm the server runs with int8
// kernels, whatever the CPU.
std::string QuantizedTinyCnn() {
  const std::string model = TinyCnn().Serialize();
  SampleSet calibration;
  calibration.inputs.emplace_back("image", Images(64, 3));
  QuantizationRequest request;
  request.model = model;
  request.calibration = &calibration;
  request.config.weights.bits = DefaultWeightBits(cpu::Cpu().vnni);
  absl::StatusOr<QuantizationResult> result = QuantizeModel(request);
  EXPECT_THAT(result, IsOk());
  return result.ok() ? result->model : "";
}

class ServingTest : public ::testing::Test {
 protected:
  void Start(const std::vector<std::string>& flags) {
    absl::StatusOr<std::unique_ptr<OctetdProcess>> process =
        OctetdProcess::Start(OCTETD_PATH, dir_.path() + "/data", flags);
    ASSERT_THAT(process, IsOk());
    server_ = *std::move(process);
    client_ = std::make_unique<OctetClient>(server_->target());
  }

  void Upload(const std::string& name, const std::string& bytes) {
    const std::string path = dir_.path() + "/" + name + ".onnx";
    FILE* file = std::fopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), file);
    std::fclose(file);
    ASSERT_THAT(client_->UploadModel(path, name, "", false), IsOk());
  }

  std::string Metrics() {
    absl::StatusOr<std::string> text =
        ::octet::testing::HttpGet(server_->metrics_port(), "/metrics");
    EXPECT_THAT(text, IsOk());
    return text.ok() ? *text : "";
  }

  TempDir dir_;
  std::unique_ptr<OctetdProcess> server_;
  std::unique_ptr<OctetClient> client_;
};

TEST_F(ServingTest, BatchedInt8AnswersAreTheBytesOfTheSameRequestSentAlone) {
  Start({"--inference_workers=1", "--max_queue_delay_us=2000"});
  const std::string qdq = QuantizedTinyCnn();
  ASSERT_FALSE(qdq.empty());
  Upload("tiny_int8", qdq);
  absl::StatusOr<octet::v1::ModelRuntime> runtime = client_->DescribeRuntime("tiny_int8", 0, 1, {});
  ASSERT_THAT(runtime, IsOk());
  EXPECT_GT(runtime->int8_nodes_size(), 0);
  EXPECT_EQ(runtime->simulated_nodes_size(), 0) << "every quantized pattern runs in int8";

  constexpr int kClients = 8, kRequests = 12;
  auto request_of = [](int client, int i) {
    const int64_t rows = 1 + (client + i) % 4;  // batch sizes 1 to 4, mixed in every batch
    return std::vector<std::pair<std::string, Tensor>>{
        {"image", Images(rows, static_cast<uint32_t>(1000 * client + i))}};
  };
  // Concurrently: the server batches them.
  std::vector<std::vector<Tensor>> batched(kClients);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = 0; i < kRequests; ++i) {
        absl::StatusOr<client::InferResult> result =
            client_->Infer("tiny_int8", 0, request_of(c, i), {});
        if (!result.ok()) {
          ++failures;
          batched[c].emplace_back();
          continue;
        }
        batched[c].push_back(result->outputs[0].second);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures, 0);
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("precision=\"int8\""));
  const double batches =
      MetricValue(metrics, "octet_inference_batch_rows_count", {"model=\"tiny_int8\""});
  const double rows =
      MetricValue(metrics, "octet_inference_batch_rows_sum", {"model=\"tiny_int8\""});
  ASSERT_GT(batches, 0);
  // Some requests shared a batch (the mean batch is larger than the largest request).
  EXPECT_GT(rows / batches, 1.0) << "no batch formed; the test would prove nothing";
  EXPECT_LT(batches, kClients * kRequests);

  // One at a time: each alone.
  for (int c = 0; c < kClients; ++c) {
    for (int i = 0; i < kRequests; ++i) {
      absl::StatusOr<client::InferResult> alone =
          client_->Infer("tiny_int8", 0, request_of(c, i), {});
      ASSERT_THAT(alone, IsOk());
      const Tensor& want = alone->outputs[0].second;
      const Tensor& got = batched[c][i];
      ASSERT_EQ(got.shape(), want.shape()) << "client " << c << " request " << i;
      EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), want.byte_size()), 0)
          << "client " << c << " request " << i;
    }
  }
}

TEST_F(ServingTest, AFullQueueRefusesTheExcessWhileTheRestSucceedAndHealthAnswers) {
  Start({"--inference_workers=1", "--max_queue_size=4", "--max_batch_size=2"});
  Upload("tiny", TinyCnn().Serialize());
  std::atomic<bool> loading{true};
  std::atomic<int> health_failures{0}, health_checks{0};
  std::thread health([&] {
    OctetClient prober(server_->target());
    while (loading) {
      absl::StatusOr<std::string> status = prober.Health();
      if (!status.ok() || *status != "SERVING") ++health_failures;
      ++health_checks;
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  const LoadOptions load = TinyLoad(8, 1, 64, absl::Milliseconds(800));
  absl::StatusOr<LoadResult> result = client::RunLoad(client_->channel(), load);
  loading = false;
  health.join();
  ASSERT_THAT(result, IsOk());
  EXPECT_GT(result->ok, 0);
  EXPECT_GT(result->errors, 0) << "64 clients against a queue of 4 should have been refused";
  EXPECT_EQ(result->errors, result->errors_by_code["RESOURCE_EXHAUSTED"])
      << "every failure is a refusal: " << result->first_error;
  EXPECT_THAT(result->first_error, HasSubstr("is full"));
  EXPECT_GT(health_checks, 0);
  EXPECT_EQ(health_failures, 0);
  EXPECT_GT(MetricValue(Metrics(), "octet_inference_rejected_total",
                        {"model=\"tiny\"", "reason=\"queue_full\""}),
            0);
  EXPECT_TRUE(server_->Running());
}

TEST_F(ServingTest, DeletingAVersionUnderLoadLeavesNoRequestHanging) {
  Start({"--inference_workers=1"});
  Upload("tiny", TinyCnn().Serialize());
  LoadOptions load = TinyLoad(16, 2, 32, absl::Milliseconds(600));
  load.timeout = absl::Seconds(20);  // a hung request would show as DEADLINE_EXCEEDED
  absl::StatusOr<LoadResult> result;
  std::thread loader([&] { result = client::RunLoad(client_->channel(), load); });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_THAT(client_->DeleteModel("tiny", 0), IsOk());
  loader.join();
  ASSERT_THAT(result, IsOk());
  EXPECT_GT(result->ok, 0);
  for (const auto& [code, count] : result->errors_by_code) {
    EXPECT_EQ(code, "NOT_FOUND") << count << " requests: " << result->first_error;
  }
  EXPECT_TRUE(server_->Running());
}

TEST_F(ServingTest, AModelsOwnServingSettingsOverrideTheFlagsAndSurviveARestart) {
  Start({"--inference_workers=1", "--max_batch_size=32"});
  Upload("tiny", TinyCnn().Serialize());
  octet::v1::ServingConfig config;
  config.set_max_batch_size(0);
  EXPECT_EQ(client_->SetServingConfig("tiny", config).status().code(),
            absl::StatusCode::kInvalidArgument);
  config.set_max_batch_size(1);
  EXPECT_EQ(client_->SetServingConfig("absent", config).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_THAT(client_->SetServingConfig("tiny", config), IsOk());
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
  Start({"--inference_workers=1", "--max_batch_size=32"});
  absl::StatusOr<octet::v1::Model> model = client_->GetModel("tiny");
  ASSERT_THAT(model, IsOk());
  EXPECT_EQ(model->serving().max_batch_size(), 1);
  EXPECT_FALSE(model->serving().has_max_queue_delay_us());

  const LoadOptions load = TinyLoad(1, 5, 16, absl::Milliseconds(300));
  absl::StatusOr<LoadResult> result = client::RunLoad(client_->channel(), load);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->errors, 0) << result->first_error;
  const std::string metrics = Metrics();
  const double batches =
      MetricValue(metrics, "octet_inference_batch_rows_count", {"model=\"tiny\""});
  EXPECT_GT(batches, 0);
  EXPECT_EQ(MetricValue(metrics, "octet_inference_batch_rows_sum", {"model=\"tiny\""}), batches)
      << "with max_batch_size 1 every request runs alone";
}

}  // namespace
}  // namespace octet
