// The `octet` command-line tool against a real octetd: every models command, infer with .npy
// files, JSON output, and one-line errors with a non-zero exit.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "engine/base/status_matchers.h"
#include "engine/io/npy.h"
#include "engine/io/npz.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/octetd_process.h"
#include "tests/testing/onnx_model_builder.h"
#include "tests/testing/temp_dir.h"

namespace octet {
namespace {

using ::octet::testing::OctetdProcess;
using ::octet::testing::PseudoRandom;
using ::octet::testing::TempDir;
using ::octet::testing::TinyCnn;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Result {
  int exit_code;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto process = OctetdProcess::Start(OCTETD_PATH, dir_.path() + "/data");
    ASSERT_THAT(process, ::octet::testing::IsOk());
    server_ = *std::move(process);
    model_path_ = dir_.path() + "/tiny.onnx";
    std::ofstream(model_path_, std::ios::binary) << cnn_.Serialize();
  }

  // Runs `octet --server=... ARGS`; arguments are single-quoted for the shell.
  Result Octet(const std::vector<std::string>& args) {
    std::string command = std::string("'") + OCTET_PATH + "' --server=" + server_->target();
    for (const std::string& a : args) command += " '" + a + "'";
    const std::string err_path = dir_.path() + "/stderr";
    command += " 2>'" + err_path + "'";
    FILE* pipe = popen(command.c_str(), "r");
    Result result{-1, "", ""};
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream err(err_path);
    result.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
    // Say whether the server was alive, so that a failure to connect can be told apart from a
    // server that died (seen once in CI, not reproduced).
    if (result.exit_code != 0) result.err += "[octetd: " + server_->State() + "]\n";
    return result;
  }

  TempDir dir_;
  std::unique_ptr<OctetdProcess> server_;
  std::string model_path_;
  TinyCnn cnn_;
};

TEST_F(CliTest, ManagesModelsAndRunsInferenceOnNpyFiles) {
  Result health = Octet({"health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_THAT(health.out, StartsWith("SERVING: octet "));

  Result upload =
      Octet({"models", "upload", model_path_, "--name", "tiny", "--description", "demo"});
  ASSERT_EQ(upload.exit_code, 0) << upload.err;
  EXPECT_THAT(upload.out, StartsWith("uploaded tiny version 1"));

  Result list = Octet({"models", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const nlohmann::json listed = nlohmann::json::parse(list.out);
  ASSERT_EQ(listed["models"].size(), 1u);
  EXPECT_EQ(listed["models"][0]["name"], "tiny");
  EXPECT_EQ(listed["models"][0]["versions"][0]["description"], "demo");

  Result get = Octet({"models", "get", "tiny"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_THAT(get.out, HasSubstr("inputs:  image float32[N,1,8,8]"));

  // How the server runs it: the float plan, fused steps with their oneDNN implementations.
  Result describe = Octet({"models", "describe", "tiny", "--batch", "4"});
  ASSERT_EQ(describe.exit_code, 0) << describe.err;
  EXPECT_THAT(describe.out, HasSubstr("tiny version 1: "));
  EXPECT_THAT(describe.out, HasSubstr("0 int8 nodes"));
  EXPECT_THAT(describe.out, HasSubstr("Conv"));
  EXPECT_THAT(describe.out, HasSubstr("float32 [4, 10]"));
  Result bad_shape = Octet({"models", "describe", "tiny", "--shape", "image=4,x"});
  EXPECT_EQ(bad_shape.exit_code, 2);
  EXPECT_THAT(bad_shape.err, HasSubstr("expected NAME=D,D,..."));

  const std::vector<float> images = testing::PseudoRandom(2 * 64, 9);
  const std::string input = dir_.path() + "/in.npy", output = dir_.path() + "/out.npy";
  OCTET_ASSERT_OK(WriteNpyFile(input, Tensor::FromVector<float>({2, 1, 8, 8}, images)));
  Result infer = Octet({"infer", "--model", "tiny", "--input", input, "--output", output});
  ASSERT_EQ(infer.exit_code, 0) << infer.err;
  OCTET_ASSERT_OK_AND_ASSIGN(Tensor logits, ReadNpyFile(output));
  EXPECT_THAT(logits.shape(), ::testing::ElementsAre(2, 10));
  const std::vector<float> expected = cnn_.Reference(images, 2);
  for (int i = 0; i < 20; ++i) EXPECT_NEAR(logits.data<float>()[i], expected[i], 1e-4);

  Result json = Octet({"infer", "--model", "tiny", "--input", "image=" + input, "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json parsed = nlohmann::json::parse(json.out);
  EXPECT_EQ(parsed["outputs"][0]["name"], "logits");
  EXPECT_NEAR(parsed["outputs"][0]["data"][3].get<double>(), expected[3], 1e-4);

  const std::string copy = dir_.path() + "/copy.onnx";
  Result download = Octet({"models", "download", "tiny", "--output", copy});
  ASSERT_EQ(download.exit_code, 0) << download.err;
  std::ifstream in(copy, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()),
            cnn_.Serialize());

  TinyCnn other;
  other.fc_b[1] = 5;
  const std::string other_path = dir_.path() + "/other.onnx";
  std::ofstream(other_path, std::ios::binary) << other.Serialize();
  EXPECT_EQ(Octet({"models", "upload", other_path, "--name", "tiny"}).exit_code, 1);
  ASSERT_EQ(Octet({"models", "upload", other_path, "--name", "tiny", "--new-version"}).exit_code,
            0);
  Result set_default = Octet({"models", "set-default", "tiny", "--version", "2"});
  EXPECT_THAT(set_default.out, HasSubstr("default version is now 2"));
  Result remove = Octet({"models", "delete", "tiny", "--version", "1"});
  EXPECT_EQ(remove.exit_code, 0) << remove.err;
  EXPECT_THAT(remove.out, HasSubstr("deleted tiny versions 1"));
}

TEST_F(CliTest, ServingSettingsAndBenchReportWhatTheServerDid) {
  ASSERT_EQ(Octet({"models", "upload", model_path_, "--name", "tiny"}).exit_code, 0);
  Result serving = Octet({"models", "serving", "tiny", "--max-batch-size", "8"});
  ASSERT_EQ(serving.exit_code, 0) << serving.err;
  EXPECT_THAT(serving.out,
              HasSubstr("tiny serving: max_batch_size 8, max_queue_delay_us the server's"));
  Result bad = Octet({"models", "serving", "tiny", "--max-batch-size", "0"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(Octet({"models", "get", "tiny"}).out, HasSubstr("max_batch_size 8"));

  const std::string metrics =
      "http://127.0.0.1:" + std::to_string(server_->metrics_port()) + "/metrics";
  Result bench = Octet({"--json", "bench", "--model", "tiny", "--batch", "3", "--concurrency", "4",
                        "--duration", "0.3", "--warmup", "0.1", "--metrics", metrics});
  ASSERT_EQ(bench.exit_code, 0) << bench.err;
  const nlohmann::json report = nlohmann::json::parse(bench.out);
  for (const char* key : {"requests_per_s", "images_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms",
                          "errors", "errors_by_code"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_EQ(report["errors"], 0);
  EXPECT_GT(report["requests_per_s"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(report["images_per_s"].get<double>(),
                   3 * report["requests_per_s"].get<double>());
  EXPECT_LE(report["p50_ms"].get<double>(), report["p99_ms"].get<double>());
  ASSERT_TRUE(report["server"].is_object()) << bench.out;
  EXPECT_GT(report["server"]["requests"].get<int64_t>(), 0);
  EXPECT_GT(report["server"]["compute_ms"].get<double>(), 0);

  Result text = Octet({"bench", "--model", "tiny", "--duration", "0.2", "--warmup", "0",
                       "--metrics", "http://127.0.0.1:1/metrics"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("requests/s"));
  EXPECT_THAT(text.out, HasSubstr("server: not read"));
}

TEST_F(CliTest, ErrorsExitNonZeroWithOneLineReason) {
  Result missing = Octet({"models", "get", "absent"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, StartsWith("octet: NOT_FOUND: model 'absent' not found\n"));

  const std::string bad = dir_.path() + "/bad.npy";
  std::ofstream(bad) << "not numpy";
  ASSERT_EQ(Octet({"models", "upload", model_path_, "--name", "tiny"}).exit_code, 0);
  Result infer = Octet({"infer", "--model", "tiny", "--input", bad});
  EXPECT_EQ(infer.exit_code, 1);
  EXPECT_THAT(infer.err, HasSubstr("malformed .npy"));

  Result nofile = Octet({"models", "upload", dir_.path() + "/none.onnx", "--name", "x"});
  EXPECT_EQ(nofile.exit_code, 1);
  EXPECT_THAT(nofile.err, HasSubstr("cannot open"));

  server_->Stop(SIGKILL);
  Result down = Octet({"health"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_THAT(down.err, StartsWith("octet: UNAVAILABLE: "));
}

TEST_F(CliTest, UploadsDatasetsAndQuantizesWithProgressAndJson) {
  ASSERT_EQ(Octet({"models", "upload", model_path_, "--name", "tiny"}).exit_code, 0);
  // Calibration data as a single unnamed .npy array; evaluation data with labels as .npz.
  const std::string calib = dir_.path() + "/calib.npy";
  ASSERT_TRUE(
      WriteNpyFile(calib, Tensor::FromVector<float>({96, 1, 8, 8}, PseudoRandom(96 * 64, 5))).ok());
  const std::string eval = dir_.path() + "/eval.npz";
  std::vector<int64_t> labels(40);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i % 10);
  std::vector<NamedTensor> arrays;
  arrays.emplace_back("image", Tensor::FromVector<float>({40, 1, 8, 8}, PseudoRandom(40 * 64, 6)));
  arrays.emplace_back("labels", Tensor::FromVector<int64_t>({40}, labels));
  ASSERT_TRUE(WriteNpzFile(eval, arrays).ok());

  Result up = Octet({"datasets", "upload", calib, "--name", "calib"});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_THAT(up.out, HasSubstr("calib  npy  96 samples"));
  ASSERT_EQ(Octet({"datasets", "upload", eval, "--name", "eval"}).exit_code, 0);
  Result list = Octet({"datasets", "list"});
  EXPECT_THAT(list.out, HasSubstr("eval  npz  40 samples"));
  EXPECT_THAT(list.out, HasSubstr("labelled"));

  // --wait: a progress line per change on stderr (not a terminal here), then the summary.
  Result wait = Octet({"quantize", "--model", "tiny", "--calibration", "calib", "--eval", "eval",
                       "--calibration-method", "percentile", "--percentile", "99.9", "--wait"});
  ASSERT_EQ(wait.exit_code, 0) << wait.err;
  EXPECT_THAT(wait.err, HasSubstr("calibrate  batch 1/"));
  EXPECT_THAT(wait.err, HasSubstr("100%  SUCCEEDED"));
  EXPECT_THAT(wait.out, HasSubstr("tiny version 2 from version 1"));
  EXPECT_THAT(wait.out, HasSubstr("-bit weights (auto: the CPU of the octetd that ran the job"));
  // Into a pipe, a handful of lines: states, stages and tenths, not one per batch.
  EXPECT_LE(std::count(wait.err.begin(), wait.err.end(), '\n'), 40) << wait.err;
  EXPECT_THAT(wait.out, HasSubstr("top-1 agreement"));
  EXPECT_THAT(wait.out, HasSubstr("worst layers by SQNR"));
  // How long it took, and its longest steps (report.timing).
  EXPECT_THAT(wait.out, ContainsRegex("took [0-9.hms]+: [a-z ]+ [0-9.hms]+"));

  // --json: one object with the job and its report.
  Result json =
      Octet({"--json", "quantize", "--model", "tiny", "--calibration", "calib", "--eval", "eval",
             "--weight-granularity", "per-tensor", "--target-cpu", "avx2", "--wait"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json job = nlohmann::json::parse(json.out);
  EXPECT_EQ(job["state"], "SUCCEEDED");
  EXPECT_EQ(job["error"], "");
  EXPECT_EQ(job["model"], "tiny");
  EXPECT_EQ(job["result_version"], 3);
  const nlohmann::json& evaluation = job["report"]["evaluation"];
  for (const char* key : {"float_top1", "quantized_top1", "top1_agreement"}) {
    EXPECT_TRUE(evaluation.contains(key)) << key;
  }
  EXPECT_EQ(job["report"]["config"]["weights"]["granularity"], "per_tensor")
      << job["report"]["config"];
  // Made for AVX2 CPUs: 7-bit weights, which oneDNN's AVX2 int8 kernels sum exactly.
  EXPECT_EQ(job["report"]["config"]["target_cpu"], "avx2");
  EXPECT_EQ(job["report"]["config"]["weights"]["bits"], 7);
  // ... and 8 bits where needed for depthwise and pointwise layers, measured on calibration data.
  EXPECT_EQ(job["report"]["config"]["weights"]["bits_where_needed"], 8);
  EXPECT_FALSE(job["report"]["weight_precision"]["trials"].empty()) << job["report"];
  // The layer precisions as flags.
  Result layers =
      Octet({"--json", "quantize", "--model", "tiny", "--calibration", "calib", "--weight-bits",
             "6", "--pointwise-bits", "5", "--depthwise-bits", "4", "--wait"});
  ASSERT_EQ(layers.exit_code, 0) << layers.err;
  const nlohmann::json precision = nlohmann::json::parse(layers.out)["report"]["weight_precision"];
  EXPECT_EQ(precision["other_bits"], 6) << precision;
  EXPECT_EQ(precision["pointwise_bits"], 5);
  EXPECT_EQ(precision["depthwise_bits"], 4);
  Result out_of_range =
      Octet({"quantize", "--model", "tiny", "--calibration", "calib", "--pointwise-bits", "9"});
  EXPECT_NE(out_of_range.exit_code, 0);
  EXPECT_THAT(out_of_range.err, HasSubstr("--pointwise-bits"));
  Result describe = Octet({"models", "describe", "tiny", "--version", "3"});
  EXPECT_THAT(describe.out, HasSubstr("this server's CPU: "));
  EXPECT_THAT(describe.out, HasSubstr("for AVX2 CPUs"));

  Result jobs = Octet({"jobs", "list", "--state", "succeeded"});
  EXPECT_THAT(jobs.out, HasSubstr("tiny v1 -> v3"));
  Result get = Octet({"jobs", "get", job["id"].get<std::string>()});
  EXPECT_THAT(get.out, HasSubstr("SUCCEEDED"));
  Result cancel = Octet({"jobs", "cancel", job["id"].get<std::string>()});
  EXPECT_EQ(cancel.exit_code, 1);
  EXPECT_THAT(cancel.err, StartsWith("octet: FAILED_PRECONDITION: job "));

  Result missing = Octet({"quantize", "--model", "tiny", "--calibration", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, StartsWith("octet: NOT_FOUND: dataset 'nope' not found"));
  Result deleted = Octet({"datasets", "delete", "calib"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
}

}  // namespace
}  // namespace octet
