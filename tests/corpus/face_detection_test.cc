// A real pre-trained detector from the npm registry through octetd: retinaface 0.0.6's RetinaFace
// (MobileNet-0.25 backbone, InsightFace's weights converted from MXNet, opset 12; 640x640 RGB in,
// face probability, box and landmark maps at strides 8, 16 and 32 out). Inputs are photographs
// from Debian (python3-imageio's astronaut.png, one face, and chelsea.png, a cat) placed on black
// 640x640 canvases as the package's letterboxing does. Served in float, it computes what ONNX
// Runtime computes (tests/data/corpus/retinaface_astronaut_*.npy, made by
// scripts/fixtures/retinaface_reference.sh); quantized with the default job and served, it finds
// the same face.
#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>
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

namespace v1 = octet::v1;
using ::octet::client::OctetClient;
using ::octet::testing::CorpusDir;
using ::octet::testing::IsOk;
using ::octet::testing::OctetdProcess;
using ::octet::testing::TempDir;

constexpr int64_t kSize = 640;
constexpr char kImages[] = "/usr/lib/python3/dist-packages/imageio/resources/images/";

struct Image {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes a pixel
};

Image ReadPng(const std::string& path) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  Image image;
  if (!png_image_begin_read_from_file(&png, path.c_str())) {
    ADD_FAILURE() << path << ": " << png.message;
    return image;
  }
  png.format = PNG_FORMAT_RGB;
  image.width = png.width;
  image.height = png.height;
  image.rgb.resize(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, image.rgb.data(), 0, nullptr)) {
    ADD_FAILURE() << path << ": " << png.message;
    image.rgb.clear();
  }
  return image;
}

// How a photograph is placed on the black canvas: its top-left corner, mirrored or not, shrunk
// by averaging `down` x `down` blocks, and its pixels scaled by `gain` (clamped to 255).
struct Placement {
  int64_t x = 0, y = 0;
  bool mirror = false;
  int down = 1;
  float gain = 1.0f;
};

// [3, 640, 640] RGB pixels 0-255, what the package feeds the model.
std::vector<float> Canvas(const Image& image, const Placement& at) {
  std::vector<float> canvas(3 * kSize * kSize, 0.0f);
  const int64_t width = image.width / at.down, height = image.height / at.down;
  for (int64_t y = 0; y < height && at.y + y < kSize; ++y) {
    for (int64_t x = 0; x < width && at.x + x < kSize; ++x) {
      const int64_t source_x = at.mirror ? width - 1 - x : x;
      for (int c = 0; c < 3; ++c) {
        float sum = 0.0f;
        for (int dy = 0; dy < at.down; ++dy) {
          for (int dx = 0; dx < at.down; ++dx) {
            sum += image.rgb[((y * at.down + dy) * image.width + source_x * at.down + dx) * 3 + c];
          }
        }
        canvas[(c * kSize + at.y + y) * kSize + at.x + x] =
            std::min(255.0f, at.gain * sum / (at.down * at.down));
      }
    }
  }
  return canvas;
}

Tensor Batch(const std::vector<std::vector<float>>& canvases) {
  std::vector<float> values;
  for (const std::vector<float>& canvas : canvases) {
    values.insert(values.end(), canvas.begin(), canvas.end());
  }
  return Tensor::FromVector<float>({static_cast<int64_t>(canvases.size()), 3, kSize, kSize},
                                   values);
}

const Tensor& Output(const client::InferResult& result, const std::string& name) {
  for (const auto& [output, tensor] : result.outputs) {
    if (output == name) return tensor;
  }
  ADD_FAILURE() << "no output " << name;
  static const Tensor kEmpty;
  return kEmpty;
}

// The most probable face anchor of a stride-16 map [1, 4, 40, 40] (channels 2 and 3 are the two
// anchors' face probabilities): (anchor, y, x) and the probability.
struct Anchor {
  int64_t anchor = 0, y = 0, x = 0;
  float probability = 0.0f;
};

Anchor BestFace(const Tensor& probabilities) {
  Anchor best;
  const int64_t cells = probabilities.dim(2) * probabilities.dim(3);
  for (int64_t a = 0; a < 2; ++a) {
    for (int64_t i = 0; i < cells; ++i) {
      const float p = probabilities.data<float>()[(2 + a) * cells + i];
      if (p > best.probability) {
        best = {a, i / probabilities.dim(3), i % probabilities.dim(3), p};
      }
    }
  }
  return best;
}

// The box [x0, y0, x1, y1] the anchor's deltas give (RetinaFace's decoding; stride 16, anchor
// sizes 128 and 64 pixels).
std::array<double, 4> Box(const Tensor& deltas, const Anchor& anchor) {
  const int64_t cells = deltas.dim(2) * deltas.dim(3);
  auto delta = [&](int k) {
    return deltas
        .data<float>()[(anchor.anchor * 4 + k) * cells + anchor.y * deltas.dim(3) + anchor.x];
  };
  const double size = anchor.anchor == 0 ? 128.0 : 64.0;
  const double cx = anchor.x * 16 + 7.5 + delta(0) * size;
  const double cy = anchor.y * 16 + 7.5 + delta(1) * size;
  const double w = size * std::exp(delta(2)), h = size * std::exp(delta(3));
  return {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
}

double Iou(const std::array<double, 4>& a, const std::array<double, 4>& b) {
  const double w = std::max(0.0, std::min(a[2], b[2]) - std::max(a[0], b[0]));
  const double h = std::max(0.0, std::min(a[3], b[3]) - std::max(a[1], b[1]));
  const double inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

class FaceDetectionCorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string model = CorpusDir() + "/retinaface-0.0.6/package/mnet.25_v2.onnx";
    ASSERT_TRUE(std::filesystem::exists(model))
        << model << " is missing: run scripts/fixtures/fetch_corpus.sh (scripts/test.sh does)";
    astronaut_ = ReadPng(absl::StrCat(kImages, "astronaut.png"));
    cat_ = ReadPng(absl::StrCat(kImages, "chelsea.png"));
    ASSERT_FALSE(astronaut_.rgb.empty() || cat_.rgb.empty()) << "install python3-imageio";
    OCTET_ASSERT_OK_AND_ASSIGN(server_,
                               OctetdProcess::Start(OCTETD_PATH, dir_.path() + "/data", {}));
    client_ = std::make_unique<OctetClient>(server_->target());
    ASSERT_THAT(client_->UploadModel(model, "faces", "", false), IsOk());
  }

  TempDir dir_;
  Image astronaut_, cat_;
  std::unique_ptr<OctetdProcess> server_;
  std::unique_ptr<OctetClient> client_;
};

TEST_F(FaceDetectionCorpusTest, TheFloatExportServesWhatOnnxRuntimeComputes) {
  const Tensor input = Batch({Canvas(astronaut_, {64, 64})});
  OCTET_ASSERT_OK_AND_ASSIGN(client::InferResult result,
                             client_->Infer("faces", 1, {{"data", input}}, {}));
  for (const auto& [output, file] :
       {std::pair<std::string, std::string>{"face_rpn_cls_prob_reshape_stride16", "cls16"},
        {"face_rpn_bbox_pred_stride16", "bbox16"}}) {
    OCTET_ASSERT_OK_AND_ASSIGN(
        Tensor reference,
        ReadNpyFile(absl::StrCat(OCTET_SOURCE_DIR, "/tests/data/corpus/retinaface_astronaut_", file,
                                 ".npy")));
    const Tensor& served = Output(result, output);
    ASSERT_EQ(served.shape(), reference.shape()) << output;
    float largest = 0.0f;
    for (int64_t i = 0; i < reference.element_count(); ++i) {
      largest = std::max(largest, std::abs(served.data<float>()[i] - reference.data<float>()[i]));
    }
    std::cout << output << ": largest difference from ONNX Runtime " << largest << "\n";
    EXPECT_LT(largest, 1e-3f) << output;
  }
  const Anchor face = BestFace(Output(result, "face_rpn_cls_prob_reshape_stride16"));
  EXPECT_GT(face.probability, 0.75f);
}

TEST_F(FaceDetectionCorpusTest, QuantizesWithTheDefaultsAndFindsTheSameFace) {
  // Calibration: the astronaut and the cat at several places, sizes, sides and exposures;
  // evaluation: others, the first of them the reference placement.
  const Tensor calibration =
      Batch({Canvas(astronaut_, {0, 0}), Canvas(astronaut_, {128, 128, true}),
             Canvas(astronaut_, {40, 300, false, 2}), Canvas(astronaut_, {300, 20, true, 2, 0.8f}),
             Canvas(cat_, {0, 0}), Canvas(cat_, {180, 330, true}),
             Canvas(astronaut_, {200, 200, false, 4}), Canvas(cat_, {100, 60, false, 1, 1.2f})});
  const Tensor evaluation =
      Batch({Canvas(astronaut_, {64, 64}), Canvas(astronaut_, {330, 300, true, 2, 1.1f}),
             Canvas(cat_, {150, 200, true, 1, 0.9f})});
  for (const auto& [name, samples] :
       {std::pair<std::string, const Tensor*>{"calibration", &calibration},
        {"evaluation", &evaluation}}) {
    const std::string path = absl::StrCat(dir_.path(), "/", name, ".npz");
    ASSERT_THAT(WriteNpzFile(path, {{"data", *samples}}), IsOk());
    ASSERT_THAT(client_->UploadDataset(path, name, ""), IsOk());
  }
  v1::CreateJobRequest request;
  request.set_model("faces");
  request.set_calibration_dataset("calibration");
  request.set_evaluation_dataset("evaluation");
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job created, client_->CreateJob(request));
  OCTET_ASSERT_OK_AND_ASSIGN(v1::Job job, client_->WatchJob(created.id(), [](const v1::Job&) {}));
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  const nlohmann::json report = nlohmann::json::parse(job.report_json());
  std::cout << "calibration: " << report["calibration"].dump() << "\n";
  // Thresholds for this model: every face probability map at least 30 dB; the box and landmark
  // regressions, compared over whole maps where most positions hold no face (a black border
  // that rounds to one level everywhere: bias correction's E[Q(x)] keeps it from shifting them),
  // at least 15 dB. For a CPU without VNNI the default job measures that 7-bit weights leave the
  // stride-32 box map near 13 dB on the calibration samples and gives the pointwise layers (run
  // exactly at 8 bits by Octet's own product there), and the depthwise ones if that is not enough,
  // 8-bit weights.
  const std::string target = report["config"].value("target_cpu", "");
  const nlohmann::json& precision = report["weight_precision"];
  std::cout << "target CPU " << target << ", weight precision " << precision.dump() << "\n";
  EXPECT_EQ(precision["pointwise_bits"], 8);
  if (target == "avx2") {
    EXPECT_EQ(precision["other_bits"], 7);
    ASSERT_GE(precision["trials"].size(), 2u);
    EXPECT_LT(precision["trials"][0]["worst_output_sqnr_db"].get<double>(), 20.0);
  } else {
    EXPECT_EQ(precision["depthwise_bits"], 8);
  }
  ASSERT_EQ(report["evaluation"]["outputs"].size(), 9u);
  for (const nlohmann::json& output : report["evaluation"]["outputs"]) {
    const std::string name = output["name"];
    std::cout << name << ": " << output["sqnr_db"] << " dB\n";
    const bool probabilities = name.find("cls_prob") != std::string::npos;
    EXPECT_GE(output["sqnr_db"].get<double>(), probabilities ? 30.0 : 15.0) << name;
  }
  // The served int8 version finds the astronaut's face where the float one does, with a box
  // that overlaps it.
  const Tensor input = Batch({Canvas(astronaut_, {64, 64})});
  OCTET_ASSERT_OK_AND_ASSIGN(client::InferResult float_out,
                             client_->Infer("faces", 1, {{"data", input}}, {}));
  OCTET_ASSERT_OK_AND_ASSIGN(client::InferResult int8_out,
                             client_->Infer("faces", job.result_version(), {{"data", input}}, {}));
  const Anchor float_face = BestFace(Output(float_out, "face_rpn_cls_prob_reshape_stride16"));
  const Anchor int8_face = BestFace(Output(int8_out, "face_rpn_cls_prob_reshape_stride16"));
  EXPECT_EQ(int8_face.anchor, float_face.anchor);
  EXPECT_EQ(int8_face.y, float_face.y);
  EXPECT_EQ(int8_face.x, float_face.x);
  EXPECT_GT(int8_face.probability, 0.75f);
  const double iou = Iou(Box(Output(float_out, "face_rpn_bbox_pred_stride16"), float_face),
                         Box(Output(int8_out, "face_rpn_bbox_pred_stride16"), int8_face));
  std::cout << "face: float p " << float_face.probability << ", int8 p " << int8_face.probability
            << ", box IoU " << iou << "\n";
  EXPECT_GT(iou, 0.9);
  // ... with every quantized pattern on an int8 kernel of this CPU (8-bit pointwise and depthwise
  // layers on Octet's own where oneDNN's would saturate).
  OCTET_ASSERT_OK_AND_ASSIGN(v1::ModelRuntime runtime,
                             client_->DescribeRuntime("faces", job.result_version(), 1, {}));
  std::cout << runtime.int8_nodes_size() << " int8 patterns, " << runtime.simulated_nodes_size()
            << " in float on " << runtime.cpu() << "\n";
  EXPECT_GT(runtime.int8_nodes_size(), 0);
  EXPECT_EQ(runtime.simulated_nodes_size(), 0)
      << (runtime.simulated_nodes_size() > 0 ? runtime.simulated_nodes(0) : "");
}

}  // namespace
}  // namespace octet
