// Datasets and quantization jobs against a real octetd on loopback: a job from upload to a served
// int8 version, concurrency, cancellation, idempotency, refusals, failures, queue and size limits,
// and durability across kill -9, repeated crashes and SIGTERM.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/octet_client.h"
#include "engine/base/status_matchers.h"
#include "engine/io/idx.h"
#include "engine/io/npz.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fashion_mnist.h"
#include "tests/testing/octetd_process.h"
#include "tests/testing/onnx_model_builder.h"
#include "tests/testing/temp_dir.h"

namespace octet {
namespace {

namespace v1 = octet::v1;
using ::octet::client::OctetClient;
using ::octet::testing::FashionMnist;
using ::octet::testing::IsOk;
using ::octet::testing::OctetdProcess;
using ::octet::testing::StatusIs;
using ::octet::testing::TempDir;
using ::testing::_;
using ::testing::HasSubstr;

constexpr char kModel[] = OCTET_SOURCE_DIR "/tests/data/fashion_mnist/resnet_small.onnx";

class JobsTest : public ::testing::Test {
 protected:
  void Start(const std::vector<std::string>& flags = {}) {
    flags_ = flags;
    absl::StatusOr<std::unique_ptr<OctetdProcess>> process =
        OctetdProcess::Start(OCTETD_PATH, data_dir(), flags);
    ASSERT_THAT(process, IsOk());
    server_ = *std::move(process);
    client_ = std::make_unique<OctetClient>(server_->target());
  }

  std::string data_dir() const { return dir_.path() + "/data"; }

  // Writes `arrays` as an .npz and uploads it as dataset `name`.
  absl::StatusOr<v1::Dataset> UploadArrays(const std::string& name,
                                           const std::vector<NamedTensor>& arrays) {
    const std::string path = absl::StrCat(dir_.path(), "/", name, ".npz");
    if (absl::Status s = WriteNpzFile(path, arrays); !s.ok()) return s;
    return client_->UploadDataset(path, name, "");
  }

  void UploadModelAndData() {
    ASSERT_THAT(client_->UploadModel(kModel, "resnet", "", false), IsOk());
    ASSERT_THAT(UploadArrays("calib", FashionMnist(0, 320, false)), IsOk());
    ASSERT_THAT(UploadArrays("eval", FashionMnist(5000, 200, true)), IsOk());
  }

  static v1::CreateJobRequest Request(int batches = 10, int batch_size = 32) {
    v1::CreateJobRequest request;
    request.set_model("resnet");
    request.set_calibration_dataset("calib");
    request.mutable_config()->mutable_calibration()->set_max_batches(batches);
    request.mutable_config()->mutable_calibration()->set_batch_size(batch_size);
    return request;
  }

  // Follows the job until it ends.
  v1::Job WaitForEnd(const std::string& id) {
    absl::StatusOr<v1::Job> job = client_->WatchJob(id, [](const v1::Job&) {});
    EXPECT_THAT(job, IsOk());
    return job.ok() ? *job : v1::Job();
  }

  // Waits until the job is in calibration with at least `batches` done (or has ended).
  v1::Job WaitForCalibration(const std::string& id, int batches) {
    v1::Job seen;
    for (int i = 0; i < 6000; ++i) {
      absl::StatusOr<v1::Job> job = client_->GetJob(id);
      if (!job.ok()) break;
      seen = *job;
      if ((job->progress().stage() == v1::JOB_STAGE_CALIBRATE &&
           job->progress().batches_done() >= batches) ||
          job->state() >= v1::JOB_STATE_SUCCEEDED) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return seen;
  }

  int TempFiles() const { return dir_.CountFiles("data/tmp"); }

  TempDir dir_;
  std::vector<std::string> flags_;
  std::unique_ptr<OctetdProcess> server_;
  std::unique_ptr<OctetClient> client_;
};

TEST_F(JobsTest, JobQuantizesAnUploadedModelIntoAServedInt8Version) {
  Start();
  UploadModelAndData();
  v1::CreateJobRequest request = Request();
  request.set_evaluation_dataset("eval");
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job created, client_->CreateJob(request));
  EXPECT_EQ(created.state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(created.model_version(), 1);
  // The job reports the config it runs with, defaults filled in.
  EXPECT_EQ(created.config().calibration().method(), v1::CALIBRATION_METHOD_AUTO);
  EXPECT_EQ(created.config().weights().granularity(), v1::GRANULARITY_PER_CHANNEL);

  std::vector<v1::JobStage> stages;
  std::vector<int> calibration_batches;
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job done, client_->WatchJob(created.id(), [&](const v1::Job& j) {
    if (stages.empty() || stages.back() != j.progress().stage()) {
      stages.push_back(j.progress().stage());
    }
    if (j.progress().stage() == v1::JOB_STAGE_CALIBRATE && j.progress().batches_done() > 0) {
      calibration_batches.push_back(j.progress().batches_done());
    }
  }));
  ASSERT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.error();
  EXPECT_THAT(stages, ::testing::IsSupersetOf(
                          {v1::JOB_STAGE_CALIBRATE, v1::JOB_STAGE_EVALUATE, v1::JOB_STAGE_STORE}));
  // The watcher saw every calibration batch, in order.
  EXPECT_THAT(calibration_batches, ::testing::ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
  EXPECT_EQ(done.result_version(), 2);
  EXPECT_EQ(done.attempts(), 1);
  EXPECT_EQ(done.evaluation().samples(), 200);
  EXPECT_GT(done.evaluation().top1_agreement(), 0.97);
  EXPECT_NEAR(done.evaluation().float_top1(), done.evaluation().quantized_top1(), 0.03);

  // The report names the evaluation with labels.
  const nlohmann::json report = nlohmann::json::parse(done.report_json());
  EXPECT_EQ(report["evaluation"]["top1_agreement"].get<double>(),
            done.evaluation().top1_agreement());
  EXPECT_TRUE(report["evaluation"].contains("float_top1"));

  // The new version is int8, not the default, and served.
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Model model, client_->GetModel("resnet"));
  EXPECT_EQ(model.default_version(), 1);
  ASSERT_EQ(model.versions_size(), 2);
  EXPECT_EQ(model.versions(1).precision(), v1::PRECISION_INT8);
  EXPECT_EQ(model.versions(1).source_version(), 1);
  EXPECT_EQ(model.versions(1).job_id(), created.id());
  EXPECT_LT(model.versions(1).size_bytes(), model.versions(0).size_bytes() / 2);
  std::vector<NamedTensor> images = FashionMnist(9000, 8, false);
  OCTET_ASSERT_OK_AND_ASSIGN(auto float_out, client_->Infer("resnet", 1, {images[0]}, {}));
  OCTET_ASSERT_OK_AND_ASSIGN(auto int8_out, client_->Infer("resnet", 2, {images[0]}, {}));
  ASSERT_EQ(int8_out.outputs.size(), 1u);
  EXPECT_EQ(int8_out.model_version, "2");
  int agree = 0;
  for (int i = 0; i < 8; ++i) {
    const float* f = float_out.outputs[0].second.data<float>() + i * 10;
    const float* q = int8_out.outputs[0].second.data<float>() + i * 10;
    agree += std::max_element(f, f + 10) - f == std::max_element(q, q + 10) - q;
  }
  EXPECT_GE(agree, 7);

  // The stored artifact: the manifest beside the version names every file's sha256 and the
  // inputs' hashes.
  const nlohmann::json manifest = nlohmann::json::parse(done.manifest_json());
  EXPECT_EQ(manifest["files"]["model.onnx"]["sha256"], model.versions(1).sha256());
  EXPECT_EQ(manifest["files"]["model.onnx"]["size_bytes"], model.versions(1).size_bytes());
  EXPECT_EQ(manifest["files"]["report.json"]["size_bytes"], done.report_json().size());
  EXPECT_EQ(manifest["source_model"]["sha256"], model.versions(0).sha256());
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Dataset calib, client_->GetDataset("calib"));
  EXPECT_EQ(manifest["calibration_dataset"]["sha256"], calib.sha256());
  EXPECT_EQ(manifest["evaluation_dataset"]["name"], "eval");
  OCTET_ASSERT_OK_AND_ASSIGN(auto listed, client_->ListJobs("resnet", v1::JOB_STATE_SUCCEEDED));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id(), created.id());
  // Job metrics.
  OCTET_ASSERT_OK_AND_ASSIGN(std::string metrics,
                             ::octet::testing::HttpGet(server_->metrics_port(), "/metrics"));
  EXPECT_EQ(::octet::testing::MetricValue(metrics, "octet_quantization_jobs_total",
                                          {"state=\"SUCCEEDED\""}),
            1);
  EXPECT_EQ(
      ::octet::testing::MetricValue(metrics, "octet_quantization_job_duration_seconds_count", {}),
      1);
  EXPECT_EQ(::octet::testing::MetricValue(metrics, "octet_quantization_jobs_running", {}), 0);
}

// A text-detection-like network: symbolic height and width, a single-channel probability map per
// image. Calibration data of one size; the job evaluates the map pixel by pixel and the version
// serves other sizes.
TEST_F(JobsTest, ADenseMapModelWithSymbolicSizesQuantizesAndIsEvaluatedPerPixel) {
  Start();
  testing::OnnxModelBuilder b;
  b.Input("image", {-1, 3, -1, -1}).Output("probability", {-1, 1, -1, -1});
  b.Initializer("w1", Tensor::FromVector<float>({8, 3, 3, 3}, testing::PseudoRandom(216, 5)));
  b.Initializer("w2", Tensor::FromVector<float>({1, 8, 1, 1}, testing::PseudoRandom(8, 6)));
  testing::SetAttribute(b.Node("Conv", {"image", "w1"}, {"c1"}), "pads",
                        std::vector<int64_t>{1, 1, 1, 1});
  b.Node("Relu", {"c1"}, {"r1"});
  b.Node("Conv", {"r1", "w2"}, {"logit"});
  b.Node("Sigmoid", {"logit"}, {"probability"});
  const std::string path = dir_.path() + "/detector.onnx";
  std::ofstream(path, std::ios::binary) << b.Serialize();
  ASSERT_THAT(client_->UploadModel(path, "detector", "", false), IsOk());
  std::vector<float> pixels = testing::PseudoRandom(40 * 3 * 20 * 24, 7);
  for (float& p : pixels) p = (p + 1.0f) / 2.0f;
  ASSERT_THAT(UploadArrays("maps", {{"image", Tensor::FromVector<float>({40, 3, 20, 24}, pixels)}}),
              IsOk());
  v1::CreateJobRequest request;
  request.set_model("detector");
  request.set_calibration_dataset("maps");
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job job, client_->CreateJob(request));
  const v1::Job done = WaitForEnd(job.id());
  ASSERT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.error();
  EXPECT_FALSE(done.evaluation().has_top1_agreement());
  EXPECT_GT(done.evaluation().output_sqnr_db(), 20.0);
  const nlohmann::json report = nlohmann::json::parse(done.report_json());
  const nlohmann::json& output = report["evaluation"]["outputs"][0];
  EXPECT_EQ(output["agreement_metric"], "agreement of values above 0.5") << output;
  EXPECT_GT(output["agreement"].get<double>(), 0.95) << output;
  // The quantized version serves another size than the calibration's.
  std::vector<float> other = testing::PseudoRandom(3 * 32 * 40, 8);
  OCTET_ASSERT_OK_AND_ASSIGN(
      client::InferResult served,
      client_->Infer("detector", 2, {{"image", Tensor::FromVector<float>({1, 3, 32, 40}, other)}},
                     {}));
  EXPECT_EQ(served.outputs[0].second.shape(), (Shape{1, 1, 32, 40}));
}

TEST_F(JobsTest, PromoteMovesTheDefaultAndWeightsOnlyNeedsNoData) {
  Start();
  UploadModelAndData();
  v1::CreateJobRequest request;
  request.set_model("resnet");
  request.set_promote(true);
  request.mutable_config()->set_mode(v1::QUANTIZATION_MODE_WEIGHTS_ONLY);
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job created, client_->CreateJob(request));
  const v1::Job done = WaitForEnd(created.id());
  ASSERT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.error();
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Model model, client_->GetModel("resnet"));
  EXPECT_EQ(model.default_version(), done.result_version());
  EXPECT_EQ(model.versions(1).precision(), v1::PRECISION_WEIGHT_ONLY);
  // Inference without a version now uses the promoted one.
  OCTET_ASSERT_OK_AND_ASSIGN(auto out,
                             client_->Infer("resnet", 0, {FashionMnist(0, 1, false)[0]}, {}));
  EXPECT_EQ(out.model_version, absl::StrCat(done.result_version()));
  // A quantized version cannot be quantized again.
  request.set_model_version(done.result_version());
  EXPECT_THAT(client_->CreateJob(request),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already quantized")));
}

TEST_F(JobsTest, TwoJobsRunAtOnceAndWatchersSeeBothEnd) {
  Start({"--job_workers=2", "--job_threads=1"});
  UploadModelAndData();
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job a, client_->CreateJob(Request()));
  v1::CreateJobRequest other = Request();
  other.mutable_config()->mutable_calibration()->set_method(v1::CALIBRATION_METHOD_MIN_MAX);
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job b, client_->CreateJob(other));
  // Two watchers of the same job, and one that gives up at once.
  std::vector<v1::Job> ends(3);
  std::thread w1([&] { ends[0] = WaitForEnd(a.id()); });
  std::thread w2([&] { ends[1] = WaitForEnd(a.id()); });
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(50));
    auto stub = v1::QuantizationService::NewStub(
        grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials()));
    v1::WatchJobRequest watch;
    watch.set_id(b.id());
    auto reader = stub->WatchJob(&context, watch);
    v1::Job ignored;
    while (reader->Read(&ignored)) {
    }
  }
  ends[2] = WaitForEnd(b.id());
  w1.join();
  w2.join();
  EXPECT_EQ(ends[0].state(), v1::JOB_STATE_SUCCEEDED) << ends[0].error();
  EXPECT_EQ(ends[1].state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(ends[2].state(), v1::JOB_STATE_SUCCEEDED) << ends[2].error();
  EXPECT_NE(ends[0].result_version(), ends[2].result_version());
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Model model, client_->GetModel("resnet"));
  EXPECT_EQ(model.versions_size(), 3);
}

TEST_F(JobsTest, CancelDuringCalibrationEndsTheJobWithoutANewVersion) {
  Start();
  UploadModelAndData();
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job created, client_->CreateJob(Request(40, 8)));
  const v1::Job running = WaitForCalibration(created.id(), 1);
  ASSERT_EQ(running.state(), v1::JOB_STATE_RUNNING);
  // While it runs, health checks and inference are answered.
  EXPECT_THAT(client_->Health(), IsOk());
  EXPECT_THAT(client_->Infer("resnet", 1, {FashionMnist(0, 4, false)[0]}, {}), IsOk());
  // While it runs, its model version and datasets cannot be deleted.
  EXPECT_THAT(client_->DeleteDataset("calib"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(created.id())));
  EXPECT_THAT(client_->DeleteModel("resnet", 0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(created.id())));
  OCTET_ASSERT_OK(client_->CancelJob(created.id()).status());
  const v1::Job done = WaitForEnd(created.id());
  EXPECT_EQ(done.state(), v1::JOB_STATE_CANCELLED);
  EXPECT_THAT(done.error(), HasSubstr("calibrating"));
  // Honoured within a batch or two of the request, long before the 40 batches.
  EXPECT_LT(done.progress().batches_done(), 40);
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Model model, client_->GetModel("resnet"));
  EXPECT_EQ(model.versions_size(), 1);
  EXPECT_THAT(client_->CancelJob(created.id()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CANCELLED")));
  // Once the job ended, the dataset may go.
  EXPECT_THAT(client_->DeleteDataset("calib"), IsOk());
  EXPECT_EQ(TempFiles(), 0);
}

TEST_F(JobsTest, SameIdempotencyKeyGivesOneJob) {
  Start();
  UploadModelAndData();
  v1::CreateJobRequest request = Request();
  request.set_idempotency_key("nightly-2026-11-26");
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job first, client_->CreateJob(request));
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job second, client_->CreateJob(request));
  EXPECT_EQ(first.id(), second.id());
  request.mutable_config()->mutable_calibration()->set_max_batches(3);
  EXPECT_THAT(client_->CreateJob(request),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr(first.id())));
  WaitForEnd(first.id());
  OCTET_ASSERT_OK_AND_ASSIGN(auto jobs, client_->ListJobs("", v1::JOB_STATE_UNSPECIFIED));
  EXPECT_EQ(jobs.size(), 1u);
}

TEST_F(JobsTest, RefusesJobsAndDatasetsThatDoNotFit) {
  Start();
  UploadModelAndData();
  // A dataset whose images are 27 wide.
  std::vector<NamedTensor> narrow;
  narrow.emplace_back("image", *Tensor::Create(DataType::kFloat32, {4, 1, 28, 27}));
  ASSERT_THAT(UploadArrays("narrow", narrow), IsOk());
  v1::CreateJobRequest request = Request();
  request.set_calibration_dataset("narrow");
  EXPECT_THAT(client_->CreateJob(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dataset 'narrow' array 'image' has 27 in dimension 3")));
  request.set_calibration_dataset("missing");
  EXPECT_THAT(client_->CreateJob(request),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("dataset 'missing'")));
  request = Request();
  request.mutable_config()->mutable_weights()->set_bits(9);
  EXPECT_THAT(client_->CreateJob(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("config.weights.bits")));
  request = Request();
  request.set_model_version(7);
  EXPECT_THAT(client_->CreateJob(request), StatusIs(absl::StatusCode::kNotFound, HasSubstr("7")));
  request = Request();
  request.clear_calibration_dataset();
  EXPECT_THAT(client_->CreateJob(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("calibration_dataset")));
  // GPTQ asked for by name needs inputs to round against, even in weights-only mode.
  request.mutable_config()->set_mode(v1::QUANTIZATION_MODE_WEIGHTS_ONLY);
  request.mutable_config()->mutable_weights()->set_rounding(v1::ROUNDING_GPTQ);
  EXPECT_THAT(client_->CreateJob(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("GPTQ rounds each layer's weights against statistics")));
  EXPECT_THAT(client_->GetJob("job-0000"), StatusIs(absl::StatusCode::kNotFound, _));

  // Datasets refused at upload, naming the array: NaN, labels out of range for the model.
  std::vector<NamedTensor> nan;
  nan.emplace_back("image", Tensor::FromVector<float>({2, 1}, {1.0f, std::nanf("")}));
  EXPECT_THAT(UploadArrays("nan", nan),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("array 'image' holds 1 NaN or infinite value; the first is "
                                 "element 1 (sample 1)")));
  std::vector<NamedTensor> uneven = FashionMnist(0, 4, true);
  uneven[1].second = Tensor::FromVector<int64_t>({3}, {1, 2, 3});
  EXPECT_THAT(UploadArrays("uneven", uneven),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'labels' has 3 samples")));
  std::vector<NamedTensor> eleven = FashionMnist(0, 2, true);
  eleven[1].second = Tensor::FromVector<int64_t>({2}, {1, 11});
  ASSERT_THAT(UploadArrays("eleven", eleven), IsOk());
  request = Request();
  request.set_evaluation_dataset("eleven");
  EXPECT_THAT(client_->CreateJob(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("label 11")));
  // Nothing half-written stays behind.
  EXPECT_EQ(TempFiles(), 0);
}

TEST_F(JobsTest, AJobWhoseEngineStepFailsEndsFailedAndTheServerKeepsServing) {
  Start();
  UploadModelAndData();
  // Finite inputs so large that the first convolution overflows to infinity during calibration.
  std::vector<NamedTensor> huge;
  Tensor images = *Tensor::Create(DataType::kFloat32, {32, 1, 28, 28});
  for (int64_t i = 0; i < images.element_count(); ++i) images.data<float>()[i] = 3e38f;
  huge.emplace_back("image", std::move(images));
  ASSERT_THAT(UploadArrays("huge", huge), IsOk());
  v1::CreateJobRequest request = Request();
  request.set_calibration_dataset("huge");
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job created, client_->CreateJob(request));
  const v1::Job done = WaitForEnd(created.id());
  EXPECT_EQ(done.state(), v1::JOB_STATE_FAILED);
  EXPECT_THAT(done.error(), HasSubstr("calibrating"));
  EXPECT_THAT(done.error(), HasSubstr("is inf"));
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Model model, client_->GetModel("resnet"));
  EXPECT_EQ(model.versions_size(), 1);
  EXPECT_THAT(client_->Infer("resnet", 1, {FashionMnist(0, 1, false)[0]}, {}), IsOk());
  // The next job runs normally.
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job next, client_->CreateJob(Request(2)));
  EXPECT_EQ(WaitForEnd(next.id()).state(), v1::JOB_STATE_SUCCEEDED);
}

TEST_F(JobsTest, AFullQueueRefusesNewJobs) {
  Start({"--job_queue_capacity=1"});
  UploadModelAndData();
  // One runs, one waits; the next is refused.
  std::vector<std::string> ids;
  absl::Status refused;
  for (int i = 0; i < 4 && refused.ok(); ++i) {
    absl::StatusOr<v1::Job> job = client_->CreateJob(Request(40, 8));
    if (job.ok()) ids.push_back(job->id());
    refused = job.status();
  }
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("queue is full")));
  EXPECT_LE(ids.size(), 2u);
  // A queued job cancelled never runs.
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job last, client_->CancelJob(ids.back()));
  if (ids.size() == 2) {
    EXPECT_EQ(last.state(), v1::JOB_STATE_CANCELLED);
  }
  for (const std::string& id : ids) client_->CancelJob(id).IgnoreError();
  for (const std::string& id : ids) EXPECT_EQ(WaitForEnd(id).state(), v1::JOB_STATE_CANCELLED);
}

TEST_F(JobsTest, TensorBatchUploadsAreConcatenatedAndChecked) {
  Start();
  ASSERT_THAT(client_->UploadModel(kModel, "resnet", "", false), IsOk());
  auto stub = v1::DatasetService::NewStub(
      grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials()));
  auto batch_of = [](const std::vector<NamedTensor>& arrays) {
    v1::UploadDatasetRequest message;
    for (const auto& [name, tensor] : arrays) {
      v1::TensorBatch::Array* array = message.mutable_batch()->add_arrays();
      array->set_name(name);
      array->set_data_type(tensor.type() == DataType::kInt64 ? v1::DATA_TYPE_INT64
                                                             : v1::DATA_TYPE_FLOAT32);
      for (int64_t d : tensor.shape()) array->add_shape(d);
      array->set_data(static_cast<const char*>(tensor.raw_data()), tensor.byte_size());
    }
    return message;
  };
  auto upload = [&](const std::string& name, const std::vector<v1::UploadDatasetRequest>& batches,
                    v1::Dataset* out) {
    grpc::ClientContext context;
    auto writer = stub->UploadDataset(&context, out);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_name(name);
    writer->Write(header);
    for (const auto& b : batches) writer->Write(b);
    writer->WritesDone();
    return writer->Finish();
  };
  v1::Dataset stored;
  grpc::Status status = upload(
      "tensors", {batch_of(FashionMnist(0, 100, true)), batch_of(FashionMnist(100, 60, true))},
      &stored);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stored.format(), v1::DATASET_FORMAT_TENSORS);
  EXPECT_EQ(stored.sample_count(), 160);
  EXPECT_TRUE(stored.has_labels());
  // A batch whose images change size is refused, naming it; nothing is stored.
  std::vector<NamedTensor> odd;
  odd.emplace_back("image", *Tensor::Create(DataType::kFloat32, {2, 1, 28, 29}));
  status = upload("mixed", {batch_of(FashionMnist(0, 2, false)), batch_of(odd)}, &stored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("batch 1 array 'image'"));
  EXPECT_THAT(client_->GetDataset("mixed"), StatusIs(absl::StatusCode::kNotFound, _));
  // Data shorter than its shape.
  v1::UploadDatasetRequest short_batch = batch_of(FashionMnist(0, 2, false));
  short_batch.mutable_batch()->mutable_arrays(0)->mutable_data()->resize(10);
  status = upload("short", {short_batch}, &stored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(TempFiles(), 0);

  v1::CreateJobRequest request = Request(3);
  request.set_calibration_dataset("tensors");
  request.set_evaluation_dataset("tensors");
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job created, client_->CreateJob(request));
  const v1::Job done = WaitForEnd(created.id());
  ASSERT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.error();
  EXPECT_EQ(done.evaluation().samples(), 160);
}

TEST_F(JobsTest, ADatasetAboveTheLimitIsRefusedWithoutGrowingTheDataDirectory) {
  Start({"--max_dataset_bytes=100000"});
  const int before = dir_.CountFiles("data");
  EXPECT_THAT(UploadArrays("big", FashionMnist(0, 64, false)),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("dataset 'big'")));
  EXPECT_EQ(dir_.CountFiles("data"), before);
  // A small one fits.
  EXPECT_THAT(UploadArrays("small", FashionMnist(0, 8, false)), IsOk());
}

TEST_F(JobsTest, AJobKilledMidCalibrationRunsAgainAfterRestartAndNothingAcknowledgedIsLost) {
  Start();
  UploadModelAndData();
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Dataset calib, client_->GetDataset("calib"));
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job created, client_->CreateJob(Request(40, 8)));
  ASSERT_EQ(WaitForCalibration(created.id(), 2).state(), v1::JOB_STATE_RUNNING);
  server_->Stop(SIGKILL);

  Start();
  const v1::Job done = WaitForEnd(created.id());
  ASSERT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.error();
  EXPECT_EQ(done.attempts(), 2);
  // Every acknowledged model and dataset is intact: the stored files match their hashes.
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Model model, client_->GetModel("resnet"));
  ASSERT_EQ(model.versions_size(), 2);
  for (const v1::ModelVersion& v : model.versions()) {
    const std::string path = absl::StrCat(dir_.path(), "/v", v.version(), ".onnx");
    OCTET_ASSERT_OK_AND_ASSIGN(v1::ModelVersion downloaded,
                               client_->DownloadModel("resnet", v.version(), path));
    EXPECT_EQ(downloaded.sha256(), v.sha256());
    EXPECT_EQ(std::filesystem::file_size(path), static_cast<uintmax_t>(v.size_bytes()));
  }
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Dataset after, client_->GetDataset("calib"));
  EXPECT_EQ(after.sha256(), calib.sha256());
  EXPECT_EQ(TempFiles(), 0);
}

TEST_F(JobsTest, AStoredDatasetThatNoLongerMatchesItsHashFailsTheJobNamingIt) {
  Start();
  UploadModelAndData();
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Dataset calib, client_->GetDataset("calib"));
  const std::string blob =
      absl::StrCat(data_dir(), "/blobs/", calib.sha256().substr(0, 2), "/", calib.sha256());
  ASSERT_TRUE(std::filesystem::exists(blob));
  {
    std::fstream file(blob, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(1000);
    file.put('\x5a');
  }
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job created, client_->CreateJob(Request(2)));
  const v1::Job done = WaitForEnd(created.id());
  EXPECT_EQ(done.state(), v1::JOB_STATE_FAILED);
  EXPECT_THAT(done.error(), HasSubstr("DATA_LOSS"));
  EXPECT_THAT(done.error(), HasSubstr("dataset 'calib' does not match its sha256"));
  // Found again on restart, and still never used; the rest is served.
  server_->Stop(SIGTERM);
  Start();
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job again, client_->CreateJob(Request(2)));
  EXPECT_EQ(WaitForEnd(again.id()).state(), v1::JOB_STATE_FAILED);
  EXPECT_THAT(client_->Infer("resnet", 1, {FashionMnist(0, 1, false)[0]}, {}), IsOk());
}

TEST_F(JobsTest, AJobThatCrashesTheServerEveryTimeEndsFailedAfterTheRetryLimit) {
  const std::vector<std::string> crashing = {"--testing_abort_in_calibration",
                                             "--job_retry_limit=2"};
  Start(crashing);
  UploadModelAndData();
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job created, client_->CreateJob(Request()));
  // Each start runs the job, which takes the process down; the second restart gives up on it.
  for (int run = 0; run < 2; ++run) {
    for (int i = 0; i < 6000 && server_->Running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_FALSE(server_->Running()) << "run " << run << " did not crash";
    EXPECT_THAT(server_->State(), HasSubstr("signal 6"));
    Start(crashing);
  }
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job job, client_->GetJob(created.id()));
  EXPECT_EQ(job.state(), v1::JOB_STATE_FAILED);
  EXPECT_EQ(job.attempts(), 2);
  EXPECT_THAT(job.error(), HasSubstr("retry limit of 2"));
  EXPECT_TRUE(server_->Running());
  EXPECT_THAT(client_->GetModel("resnet"), IsOk());
}

TEST_F(JobsTest, SigtermReturnsARunningJobToTheQueueAndItFinishesAfterRestart) {
  Start();
  UploadModelAndData();
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job created, client_->CreateJob(Request(40, 8)));
  ASSERT_EQ(WaitForCalibration(created.id(), 1).state(), v1::JOB_STATE_RUNNING);
  const auto stop_start = std::chrono::steady_clock::now();
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
  // Interrupted between batches, not after the whole job.
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, std::chrono::seconds(20));

  Start();
  const v1::Job done = WaitForEnd(created.id());
  ASSERT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.error();
  // The interrupted run does not count against the retry limit.
  EXPECT_EQ(done.attempts(), 1);
}

}  // namespace
}  // namespace octet
