// Real pre-trained exports from the npm registry through octetd: openwakeword-js's classifier
// heads for the wake words "hello deepa" and "namaste deepa" (openWakeWord's architecture:
// Flatten, Gemm, LayerNorm spelt out as ReduceMean/Sub/Pow/Sqrt/Div, Relu, ..., Sigmoid; PyTorch
// 2.8, opset 13; a fixed batch of 1), fetched by scripts/fixtures/fetch_corpus.sh. Each is
// uploaded, quantized by a job with the default configuration, and its quantized version served.
// Their input is 24 or 25 frames of openWakeWord's 96-value speech embeddings, made by a model the
// package downloads at run time and does not ship: the samples here are seeded normal values of
// that shape, not speech.
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "client/octet_client.h"
#include "engine/base/status_matchers.h"
#include "engine/io/npz.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/corpus.h"
#include "tests/testing/octetd_process.h"
#include "tests/testing/temp_dir.h"

namespace octet {
namespace {

namespace v1 = octet::v1;
using ::octet::client::OctetClient;
using ::octet::testing::CorpusDir;
using ::octet::testing::IsOk;
using ::octet::testing::OctetdProcess;
using ::octet::testing::TempDir;

// `count` samples of `frames` embeddings of 96 values.
Tensor Embeddings(int64_t count, int64_t frames, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> value(0.0f, 1.0f);
  std::vector<float> values(count * frames * 96);
  for (float& v : values) v = value(rng);
  return Tensor::FromVector<float>({count, frames, 96}, values);
}

class WakeWordCorpusTest : public ::testing::TestWithParam<std::string> {};

TEST_P(WakeWordCorpusTest, QuantizesWithTheDefaultsAndServesTheResult) {
  const std::string model =
      absl::StrCat(CorpusDir(), "/openwakeword-js-0.1.27/package/models/", GetParam(), ".onnx");
  ASSERT_TRUE(std::filesystem::exists(model))
      << model << " is missing: run scripts/fixtures/fetch_corpus.sh (scripts/test.sh does)";
  TempDir dir;
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<OctetdProcess> server,
                             OctetdProcess::Start(OCTETD_PATH, dir.path() + "/data", {}));
  OctetClient client(server->target());
  ASSERT_THAT(client.UploadModel(model, "wake", "", false), IsOk());
  // The graph's input name, as PyTorch named it, and its frames (25 for "hello deepa", 24 for
  // "namaste deepa").
  OCTET_ASSERT_OK_AND_ASSIGN(inference::ModelMetadataResponse metadata,
                             client.ModelMetadata("wake", 0));
  ASSERT_EQ(metadata.inputs_size(), 1);
  ASSERT_EQ(metadata.inputs(0).shape_size(), 3);
  const std::string input = metadata.inputs(0).name();
  const int64_t frames = metadata.inputs(0).shape(1);
  for (const auto& [name, count, seed] :
       {std::tuple<std::string, int64_t, uint32_t>{"calibration", 200, 1},
        {"evaluation", 100, 2}}) {
    const std::string path = absl::StrCat(dir.path(), "/", name, ".npz");
    ASSERT_THAT(WriteNpzFile(path, {{input, Embeddings(count, frames, seed)}}), IsOk());
    ASSERT_THAT(client.UploadDataset(path, name, ""), IsOk());
  }
  v1::CreateJobRequest request;
  request.set_model("wake");
  request.set_calibration_dataset("calibration");
  request.set_evaluation_dataset("evaluation");
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job created, client.CreateJob(request));
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job job, client.WatchJob(created.id(), [](const v1::Job&) {}));
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  std::cout << GetParam() << ": default job, output SQNR " << job.evaluation().output_sqnr_db()
            << " dB over " << job.evaluation().samples() << " samples\n";
  EXPECT_EQ(job.evaluation().samples(), 100);
  EXPECT_GE(job.evaluation().output_sqnr_db(), 25.0);
  // The probability output [1, 1] is compared by its values above 0.5 (these samples give
  // probabilities from 0.001 to 0.999, most above 0.5).
  const nlohmann::json evaluation = nlohmann::json::parse(job.report_json())["evaluation"];
  ASSERT_EQ(evaluation["outputs"].size(), 1u) << evaluation;
  const nlohmann::json& output = evaluation["outputs"][0];
  std::cout << GetParam() << ": " << output["agreement_metric"] << " " << output["agreement"]
            << "\n";
  EXPECT_GE(output["agreement"].get<double>(), 0.95) << output;

  // The quantized version serves what its float original does, within its quantization error.
  const Tensor sample = Embeddings(1, frames, 3);
  OCTET_ASSERT_OK_AND_ASSIGN(client::InferResult float_out,
                             client.Infer("wake", 1, {{input, sample}}, {}));
  OCTET_ASSERT_OK_AND_ASSIGN(client::InferResult int8_out,
                             client.Infer("wake", job.result_version(), {{input, sample}}, {}));
  ASSERT_EQ(float_out.outputs.size(), 1u);
  ASSERT_EQ(int8_out.outputs.size(), 1u);
  const float a = float_out.outputs[0].second.data<float>()[0];
  const float b = int8_out.outputs[0].second.data<float>()[0];
  std::cout << GetParam() << ": float " << a << ", int8 " << b << "\n";
  EXPECT_NEAR(a, b, 0.05);
}

INSTANTIATE_TEST_SUITE_P(Models, WakeWordCorpusTest,
                         ::testing::Values("hello_deepa", "namaste_deepa"));

}  // namespace
}  // namespace octet
