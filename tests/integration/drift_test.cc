// Live drift and calibration-coverage monitoring against a real octetd and a real Prometheus
// server on loopback: the agreement Prometheus computes from Octet's counters equals the test's
// own comparison of int8 and float answers; shifted inputs raise coverage and the distance and
// lower agreement; deletions stop monitoring; full queues drop and count samples.
//
// The tests of DriftTest share one server, one quantization of the ResNet fixture and one
// Prometheus (set up once: quantizing takes most of the time) and run in the order written.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/octet_client.h"
#include "engine/base/status_matchers.h"
#include "engine/io/npz.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fashion_mnist.h"
#include "tests/testing/octetd_process.h"
#include "tests/testing/prometheus_process.h"
#include "tests/testing/temp_dir.h"

namespace octet {
namespace {

namespace v1 = octet::v1;
using ::octet::client::OctetClient;
using ::octet::testing::FashionMnist;
using ::octet::testing::IsOk;
using ::octet::testing::OctetdProcess;
using ::octet::testing::PrometheusProcess;
using ::octet::testing::StatusIs;
using ::octet::testing::TempDir;
using ::testing::_;
using ::testing::HasSubstr;

constexpr char kModel[] = OCTET_SOURCE_DIR "/tests/data/fashion_mnist/resnet_small.onnx";
constexpr auto kTimeout = std::chrono::seconds(60);

// The argmax of each row of a [N, C] float32 tensor.
std::vector<int64_t> Top1(const Tensor& logits) {
  const int64_t classes = logits.dim(1);
  std::vector<int64_t> top(logits.dim(0));
  for (int64_t r = 0; r < logits.dim(0); ++r) {
    const float* row = logits.data<float>() + r * classes;
    top[r] = std::max_element(row, row + classes) - row;
  }
  return top;
}

// `images` with every pixel multiplied by `factor`.
NamedTensor Scaled(const NamedTensor& images, float factor) {
  Tensor scaled = images.second.Clone();
  for (int64_t i = 0; i < scaled.element_count(); ++i) scaled.data<float>()[i] *= factor;
  return {images.first, std::move(scaled)};
}

// Waits until the version's report shows `rows` compared rows (shadow runs follow the replies).
v1::DriftReport WaitForSamples(OctetClient& client, const std::string& name, int64_t version,
                               int64_t rows) {
  v1::DriftReport report;
  for (int i = 0; i < 600; ++i) {
    absl::StatusOr<v1::DriftReport> got = client.GetDrift(name, version);
    EXPECT_THAT(got, IsOk());
    if (!got.ok()) break;
    report = *got;
    if (report.live().samples() >= rows) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return report;
}

struct Shared {
  TempDir dir;
  std::unique_ptr<OctetdProcess> server;
  std::unique_ptr<PrometheusProcess> prometheus;
  std::unique_ptr<OctetClient> client;
  std::string qdq_path;  // the quantized version's file, for the servers of other tests
};
Shared* shared = nullptr;

class DriftTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared = new Shared;
    absl::StatusOr<std::unique_ptr<OctetdProcess>> server = OctetdProcess::Start(
        OCTETD_PATH, shared->dir.path() + "/data",
        {"--drift_sample_rate=1", "--drift_max_per_second=0", "--drift_max_compute_share=0"});
    ASSERT_THAT(server, IsOk());
    shared->server = *std::move(server);
    shared->prometheus =
        std::make_unique<PrometheusProcess>(shared->dir.path(), shared->server->metrics_port());
    shared->client = std::make_unique<OctetClient>(shared->server->target());
    OctetClient& client = *shared->client;
    ASSERT_THAT(client.UploadModel(kModel, "resnet", "", false), IsOk());
    const std::string calib = shared->dir.path() + "/calib.npz";
    const std::string eval = shared->dir.path() + "/eval.npz";
    ASSERT_THAT(WriteNpzFile(calib, FashionMnist(0, 320, false)), IsOk());
    ASSERT_THAT(WriteNpzFile(eval, FashionMnist(5000, 200, true)), IsOk());
    ASSERT_THAT(client.UploadDataset(calib, "calib", ""), IsOk());
    ASSERT_THAT(client.UploadDataset(eval, "eval", ""), IsOk());
    v1::CreateJobRequest request;
    request.set_model("resnet");
    request.set_calibration_dataset("calib");
    request.set_evaluation_dataset("eval");
    absl::StatusOr<v1::Job> job = client.CreateJob(request);
    ASSERT_THAT(job, IsOk());
    job = client.WatchJob(job->id(), [](const v1::Job&) {});
    ASSERT_THAT(job, IsOk());
    ASSERT_EQ(job->state(), v1::JOB_STATE_SUCCEEDED) << job->error();
    ASSERT_EQ(job->result_version(), 2);
    shared->qdq_path = shared->dir.path() + "/resnet_int8.onnx";
    ASSERT_THAT(client.DownloadModel("resnet", 2, shared->qdq_path), IsOk());
  }
  static void TearDownTestSuite() {
    delete shared;
    shared = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(shared, nullptr);
    ASSERT_NE(shared->client, nullptr) << "the suite's setup failed";
    ASSERT_EQ(access(testing::kPrometheusBinary, X_OK), 0)
        << "install the prometheus package (scripts/setup.sh --tests)";
  }

  OctetClient& client() { return *shared->client; }
  PrometheusProcess& prometheus() { return *shared->prometheus; }

  // Sends `images` to both versions in requests of `batch` rows; returns the rows whose int8
  // top-1 agrees with the float one.
  int64_t SendAndCompare(const NamedTensor& images, int64_t batch) {
    int64_t agree = 0;
    const int64_t rows = images.second.dim(0);
    for (int64_t first = 0; first < rows; first += batch) {
      const int64_t count = std::min(batch, rows - first);
      Tensor part = *Tensor::Create(DataType::kFloat32, {count, 1, 28, 28});
      std::copy_n(images.second.data<float>() + first * 784, count * 784, part.data<float>());
      absl::StatusOr<client::InferResult> int8 = client().Infer("resnet", 2, {{"image", part}}, {});
      absl::StatusOr<client::InferResult> fp32 = client().Infer("resnet", 1, {{"image", part}}, {});
      EXPECT_THAT(int8, IsOk());
      EXPECT_THAT(fp32, IsOk());
      if (!int8.ok() || !fp32.ok()) return -1;
      const std::vector<int64_t> a = Top1(int8->outputs[0].second);
      const std::vector<int64_t> b = Top1(fp32->outputs[0].second);
      for (size_t r = 0; r < a.size(); ++r) agree += a[r] == b[r];
    }
    return agree;
  }
};

TEST_F(DriftTest, AgreementPrometheusComputesEqualsTheTestsOwnComparison) {
  const NamedTensor images = FashionMnist(7000, 120, false)[0];
  const int64_t agree = SendAndCompare(images, 8);
  ASSERT_GE(agree, 0);
  const v1::DriftReport report = WaitForSamples(client(), "resnet", 2, 120);
  EXPECT_EQ(report.live().samples(), 120);
  EXPECT_EQ(report.live().top1_agreements(), agree);
  EXPECT_EQ(report.dropped_queue_full(), 0);
  EXPECT_EQ(report.dropped_failed(), 0);
  EXPECT_EQ(report.source_version(), 1);
  EXPECT_EQ(report.compared_output(), "logits");
  EXPECT_GT(report.live().mean_sqnr_db(), 20.0);
  EXPECT_GT(report.live().mean_cosine(), 0.99);
  std::printf("live agreement %lld/120, job's offline agreement %.4f\n",
              static_cast<long long>(agree), report.offline().top1_agreement());

  const std::string labels = "{model=\"resnet\",version=\"2\"}";
  EXPECT_EQ(prometheus().WaitForValue("octet_drift_samples_total" + labels, 120, kTimeout), 120);
  EXPECT_EQ(prometheus().WaitForValue("octet_drift_top1_agreements_total" + labels,
                                      static_cast<double>(agree), kTimeout),
            static_cast<double>(agree));
  const double expected = static_cast<double>(agree) / 120.0;
  EXPECT_EQ(prometheus().WaitForValue("octet_drift_top1_agreements_total" + labels +
                                          " / octet_drift_samples_total" + labels,
                                      expected, kTimeout),
            expected);
  EXPECT_EQ(prometheus().WaitForValue("octet_drift_output_sqnr_db_count" + labels, 120, kTimeout),
            120);
  EXPECT_EQ(prometheus().WaitForValue("octet_calibration_values_total{model=\"resnet\","
                                      "version=\"2\",input=\"image\"}",
                                      120 * 784, kTimeout),
            120 * 784);
  EXPECT_EQ(prometheus().WaitForValue("sum(octet_drift_samples_dropped_total" + labels + ")", 0,
                                      kTimeout),
            0);
  // The job's offline figures sit beside the live ones.
  EXPECT_EQ(prometheus().WaitForValue("octet_drift_offline_top1_agreement" + labels,
                                      report.offline().top1_agreement(), kTimeout),
            report.offline().top1_agreement());
}

// Coverage figures of a report (window totals), and those of the traffic between two reports.
struct Coverage {
  int64_t input_values = 0, input_out = 0, tensor_values = 0, tensor_out = 0;
  int64_t rows = 0, agreements = 0;
};
Coverage Totals(const v1::DriftReport& report) {
  Coverage c;
  c.input_values = report.inputs(0).values();
  c.input_out = report.inputs(0).out_of_range();
  for (const v1::TensorCoverage& t : report.tensors()) {
    c.tensor_values += t.values();
    c.tensor_out += t.out_of_range();
  }
  c.rows = report.live().samples();
  c.agreements = report.live().top1_agreements();
  return c;
}
Coverage Between(const Coverage& before, const Coverage& after) {
  return {after.input_values - before.input_values,
          after.input_out - before.input_out,
          after.tensor_values - before.tensor_values,
          after.tensor_out - before.tensor_out,
          after.rows - before.rows,
          after.agreements - before.agreements};
}
double Share(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / whole;
}

TEST_F(DriftTest, ShiftedInputsRaiseCoverageAndDistanceAndLowerAgreement) {
  const v1::DriftReport start = WaitForSamples(client(), "resnet", 2, 0);
  const NamedTensor images = FashionMnist(8000, 96, false)[0];
  ASSERT_GE(SendAndCompare(images, 8), 0);
  const v1::DriftReport normal = WaitForSamples(client(), "resnet", 2, start.live().samples() + 96);
  ASSERT_TRUE(normal.inputs(0).has_psi()) << normal.DebugString();
  ASSERT_GT(normal.tensors_size(), 0);
  const Coverage in_distribution = Between(Totals(start), Totals(normal));
  ASSERT_EQ(in_distribution.rows, 96);

  ASSERT_GE(SendAndCompare(Scaled(images, 3.0f), 8), 0);
  const v1::DriftReport shifted =
      WaitForSamples(client(), "resnet", 2, normal.live().samples() + 96);
  const Coverage out_of_distribution = Between(Totals(normal), Totals(shifted));
  ASSERT_EQ(out_of_distribution.rows, 96);

  const double calibration_share = normal.inputs(0).calibration_out_of_range_share();
  int64_t job_values = 0, job_out = 0;
  for (const v1::TensorCoverage& t : normal.tensors()) {
    job_values += t.evaluation_values();
    job_out += t.evaluation_out_of_range();
  }
  ASSERT_GT(job_values, 0);
  const double job_share = Share(job_out, job_values);
  std::printf(
      "input out of range: calibration samples %.4f%%, in-distribution traffic %.4f%%, images x3 "
      "%.2f%%\nactivations out of range: job's evaluation data %.4f%%, in-distribution %.4f%%, "
      "images x3 %.2f%%\n"
      "input PSI: after in-distribution traffic %.3f, after images x3 %.3f\n"
      "top-1 agreement: in-distribution %lld/96, images x3 %lld/96\n",
      100 * calibration_share, 100 * Share(in_distribution.input_out, in_distribution.input_values),
      100 * Share(out_of_distribution.input_out, out_of_distribution.input_values), 100 * job_share,
      100 * Share(in_distribution.tensor_out, in_distribution.tensor_values),
      100 * Share(out_of_distribution.tensor_out, out_of_distribution.tensor_values),
      normal.inputs(0).psi(), shifted.inputs(0).psi(),
      static_cast<long long>(in_distribution.agreements),
      static_cast<long long>(out_of_distribution.agreements));
  // In distribution, the share stays near the calibration's own; shifted, far above it.
  EXPECT_LE(Share(in_distribution.input_out, in_distribution.input_values),
            calibration_share + 0.001);
  EXPECT_LT(Share(in_distribution.tensor_out, in_distribution.tensor_values), job_share + 0.002);
  EXPECT_GT(Share(out_of_distribution.input_out, out_of_distribution.input_values), 0.05);
  EXPECT_GT(Share(out_of_distribution.tensor_out, out_of_distribution.tensor_values),
            10 * Share(in_distribution.tensor_out, in_distribution.tensor_values) + 0.001);
  EXPECT_GT(shifted.inputs(0).psi(), normal.inputs(0).psi() + 0.1);
  EXPECT_LT(out_of_distribution.agreements, in_distribution.agreements);
  // The worst tensors come first, and the CLI names them.
  for (int i = 1; i < shifted.tensors_size(); ++i) {
    EXPECT_GE(Share(shifted.tensors(i - 1).out_of_range(), shifted.tensors(i - 1).values()),
              Share(shifted.tensors(i).out_of_range(), shifted.tensors(i).values()));
  }
  const std::string command = absl::StrCat("'", OCTET_PATH, "' --server=", shared->server->target(),
                                           " models drift resnet");
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0);
  EXPECT_THAT(out, HasSubstr("activations most often outside their calibrated range"));
  EXPECT_THAT(out, HasSubstr(shifted.tensors(0).name()));
  EXPECT_THAT(out, HasSubstr("top-1 agreement"));
  std::printf("%s", out.c_str());
  // Prometheus has the input's counters and distance.
  const std::string input = "{model=\"resnet\",version=\"2\",input=\"image\"}";
  EXPECT_EQ(
      prometheus().WaitForValue("octet_calibration_out_of_range_total" + input,
                                static_cast<double>(shifted.inputs(0).out_of_range()), kTimeout),
      static_cast<double>(shifted.inputs(0).out_of_range()));
  EXPECT_GT(prometheus().Query("octet_calibration_input_psi" + input).value_or(0), 0.1);
}

TEST_F(DriftTest, APerModelRateOverridesTheServersAndBadRequestsAreRefused) {
  const int64_t before = WaitForSamples(client(), "resnet", 2, 0).live().samples();
  v1::ServingConfig off;
  off.set_drift_sample_rate(0);
  ASSERT_THAT(client().SetServingConfig("resnet", off), IsOk());
  ASSERT_GE(SendAndCompare(FashionMnist(9000, 16, false)[0], 8), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const v1::DriftReport report = WaitForSamples(client(), "resnet", 2, 0);
  EXPECT_EQ(report.live().samples(), before);
  EXPECT_EQ(report.sample_rate(), 0);
  v1::ServingConfig bad;
  bad.set_drift_sample_rate(1.5);
  EXPECT_THAT(client().SetServingConfig("resnet", bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("drift_sample_rate")));
  v1::ServingConfig on;
  on.set_drift_sample_rate(1);
  ASSERT_THAT(client().SetServingConfig("resnet", on), IsOk());
  // A large request is monitored by its first 32 rows.
  ASSERT_THAT(client().Infer("resnet", 2, {FashionMnist(9200, 40, false)[0]}, {}), IsOk());
  const v1::DriftReport large = WaitForSamples(client(), "resnet", 2, before + 32);
  EXPECT_EQ(large.live().samples(), before + 32);
  EXPECT_THAT(client().GetDrift("resnet", 1),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("float")));
  EXPECT_THAT(client().GetDrift("resnet", 9), StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_THAT(client().GetDrift("nope", 0), StatusIs(absl::StatusCode::kNotFound, _));
}

TEST_F(DriftTest, DeletingTheSourceStopsDriftAndDeletingTheVersionRemovesItsSeries) {
  ASSERT_THAT(client().SetDefaultVersion("resnet", 2), IsOk());
  ASSERT_THAT(client().DeleteModel("resnet", 1), IsOk());
  auto exposition = [&] {
    absl::StatusOr<std::string> body = testing::HttpGet(shared->server->metrics_port(), "/metrics");
    EXPECT_THAT(body, IsOk());
    return body.ok() ? *body : "";
  };
  EXPECT_THAT(exposition(), ::testing::Not(HasSubstr("octet_drift_samples_total{")));
  // Requests go on; the version is monitored for coverage only.
  const NamedTensor images = FashionMnist(9100, 8, false)[0];
  ASSERT_THAT(client().Infer("resnet", 2, {images}, {}), IsOk());
  v1::DriftReport report;
  // The monitor lists its inputs once built, and counts them once the shadow run is done.
  for (int i = 0; i < 200 && (report.inputs_size() == 0 || report.inputs(0).values() == 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    report = *client().GetDrift("resnet", 2);
  }
  EXPECT_EQ(report.source_version(), 0);
  EXPECT_EQ(report.live().samples(), 0);
  ASSERT_EQ(report.inputs_size(), 1);
  EXPECT_EQ(report.inputs(0).values(), 8 * 784);
  EXPECT_THAT(report.DebugString(), HasSubstr("coverage"));
  ASSERT_THAT(client().DeleteModel("resnet", 0), IsOk());
  EXPECT_THAT(client().GetDrift("resnet", 2), StatusIs(absl::StatusCode::kNotFound, _));
  const std::string body = exposition();
  EXPECT_THAT(body, ::testing::Not(HasSubstr("octet_calibration_values_total{")));
  EXPECT_THAT(body, ::testing::Not(HasSubstr("octet_drift_samples_dropped_total{")));
}

TEST_F(DriftTest, AnUploadedQuantizedModelIsMonitoredForCoverageOnly) {
  TempDir dir;
  OCTET_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<OctetdProcess> server,
      OctetdProcess::Start(OCTETD_PATH, dir.path() + "/data", {"--drift_sample_rate=1"}));
  OctetClient uploaded(server->target());
  ASSERT_THAT(uploaded.UploadModel(shared->qdq_path, "qdq", "", false), IsOk());
  ASSERT_THAT(uploaded.Infer("qdq", 1, {FashionMnist(0, 4, false)[0]}, {}), IsOk());
  v1::DriftReport report;
  for (int i = 0; i < 200 && (report.tensors_size() == 0 || report.tensors(0).values() == 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    report = *uploaded.GetDrift("qdq", 1);
  }
  EXPECT_EQ(report.source_version(), 0);
  EXPECT_EQ(report.live().samples(), 0);
  EXPECT_FALSE(report.has_offline());
  ASSERT_GT(report.tensors_size(), 0);
  // The QDQ graph, simulated in float, gives the values at every quantized activation.
  for (const v1::TensorCoverage& t : report.tensors()) EXPECT_GT(t.values(), 0) << t.name();
  EXPECT_THAT(report.DebugString(), HasSubstr("no float source version"));
}

TEST_F(DriftTest, AFullShadowQueueDropsAndCountsSamples) {
  TempDir dir;
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<OctetdProcess> server,
                             OctetdProcess::Start(OCTETD_PATH, dir.path() + "/data",
                                                  {"--drift_sample_rate=1", "--drift_queue_size=0",
                                                   "--drift_max_per_second=0"}));
  OctetClient uploaded(server->target());
  ASSERT_THAT(uploaded.UploadModel(shared->qdq_path, "qdq", "", false), IsOk());
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(uploaded.Infer("qdq", 1, {FashionMnist(i, 1, false)[0]}, {}), IsOk());
  }
  // The last sample is offered just after its reply.
  v1::DriftReport report;
  for (int i = 0; i < 100 && report.dropped_queue_full() < 5; ++i) {
    OCTET_ASSERT_OK_AND_ASSIGN(report, uploaded.GetDrift("qdq", 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(report.dropped_queue_full(), 5);
  EXPECT_EQ(report.live().samples(), 0);
  OCTET_ASSERT_OK_AND_ASSIGN(std::string metrics,
                             testing::HttpGet(server->metrics_port(), "/metrics"));
  EXPECT_EQ(testing::MetricValue(metrics, "octet_drift_samples_dropped_total",
                                 {"model=\"qdq\"", "reason=\"queue_full\""}),
            5);
}

}  // namespace
}  // namespace octet
