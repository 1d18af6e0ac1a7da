// Quantizes a model for the int8 speed benchmark (bench/run_int8_benchmark.sh) with Octet's
// default configuration and the given weight bit width, and writes the QDQ model:
//   octet_bench_quantize MODEL.onnx OUT.onnx WEIGHT_BITS[,POINTWISE_BITS[,DEPTHWISE_BITS]]|auto
//   [--fashion_mnist]
// (DEPTHWISE_BITS defaults to POINTWISE_BITS; auto: the default job's for this CPU).
// Calibration: 64 Fashion-MNIST training images with --fashion_mnist (the fixtures), else 64
// inputs drawn from a seeded standard normal distribution (torchvision models, speed only).
// Prints which nodes the int8 runtime lowers on this CPU and which it leaves simulated.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/str_split.h"
#include "engine/io/idx.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/quant/post_training_quantizer.h"
#include "engine/runtime/cpu/cpu_features.h"
#include "engine/runtime/session.h"
#include "nlohmann/json.hpp"

namespace {

int Fail(const std::string& message) {
  std::cerr << "octet_bench_quantize: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5 || (argc == 5 && std::string(argv[4]) != "--fashion_mnist")) {
    return Fail(
        "usage: octet_bench_quantize MODEL.onnx OUT.onnx "
        "WEIGHT_BITS[,POINTWISE_BITS[,DEPTHWISE_BITS]]|auto "
        "[--fashion_mnist]");
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) return Fail(std::string("cannot open ") + argv[1]);
  const std::string model((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  absl::StatusOr<octet::Graph> graph = octet::ImportOnnxModel(model);
  if (!graph.ok()) return Fail(std::string(graph.status().message()));
  if (graph->inputs.size() != 1 || !graph->inputs[0].shape.has_value()) {
    return Fail("the model must have one input of known rank");
  }
  constexpr int64_t kSamples = 64;
  octet::Shape shape = {kSamples};
  for (size_t i = 1; i < graph->inputs[0].shape->size(); ++i) {
    const octet::Dim& d = (*graph->inputs[0].shape)[i];
    if (!d.is_static()) return Fail("non-batch input dims must be static");
    shape.push_back(d.size);
  }
  absl::StatusOr<octet::Tensor> x = octet::Tensor::Create(octet::DataType::kFloat32, shape);
  if (!x.ok()) return Fail(std::string(x.status().message()));
  if (argc == 5) {
    absl::StatusOr<octet::Tensor> images = octet::ReadIdxFile(
        "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", kSamples);
    if (!images.ok()) return Fail(std::string(images.status().message()));
    if (images->element_count() != x->element_count()) return Fail("not a 28x28 one-channel model");
    for (int64_t i = 0; i < x->element_count(); ++i) {
      x->data<float>()[i] = images->data<uint8_t>()[i] / 255.0f;
    }
  } else {
    std::mt19937 generator(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int64_t i = 0; i < x->element_count(); ++i) x->data<float>()[i] = normal(generator);
  }
  octet::SampleSet samples;
  samples.inputs.emplace_back(graph->inputs[0].name, *std::move(x));
  octet::QuantizationRequest request;
  request.model = model;
  request.calibration = &samples;
  request.split_layer_errors = false;
  request.num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // "auto": what a job targeting this CPU takes by default (8 bits with VNNI; without, 7, and 8
  // for depthwise and pointwise layers where the model needs them).
  // "B[,P[,D]]": B-bit weights, P-bit pointwise and D-bit depthwise layers (D defaults to P).
  const std::string bits = argv[3];
  if (bits == "auto") {
    octet::ApplyTargetWeightDefaults(octet::cpu::Cpu().vnni, &request.config.weights);
  } else {
    const std::vector<std::string> parts = absl::StrSplit(bits, ',');
    octet::WeightQuantizationSpec& weights = request.config.weights;
    weights.bits = std::atoi(parts[0].c_str());
    if (parts.size() > 1)
      weights.pointwise_bits = weights.depthwise_bits = std::atoi(parts[1].c_str());
    if (parts.size() > 2) weights.depthwise_bits = std::atoi(parts[2].c_str());
  }
  request.config.batch_size = 8;
  absl::StatusOr<octet::QuantizationResult> result = octet::QuantizeModel(request);
  if (!result.ok()) return Fail(std::string(result.status().message()));
  std::ofstream(argv[2], std::ios::binary) << result->model;
  absl::StatusOr<std::unique_ptr<octet::Session>> session =
      octet::Session::Create(result->quantized_graph, {});
  if (!session.ok()) return Fail(std::string(session.status().message()));
  const nlohmann::json precision = nlohmann::json::parse(result->report_json)["weight_precision"];
  std::cerr << argv[2] << ": weights " << precision["other_bits"] << "-bit, depthwise "
            << precision["depthwise_bits"] << "-bit, pointwise " << precision["pointwise_bits"]
            << "-bit; " << (*session)->int8_nodes().size() << " int8 nodes, "
            << (*session)->simulated_nodes().size() << " left simulated";
  if (!(*session)->simulated_nodes().empty()) {
    std::cerr << " (" << (*session)->simulated_nodes().front() << ", ...)";
  }
  std::cerr << "\n";
  return 0;
}
