// Where a model's time goes, op type by op type: runs the model (optionally after quantizing it
// with the default configuration, optionally with int8 lowering) with SessionOptions::profile on,
// and prints each op type's mean milliseconds per run from Session::Describe (with --steps, each
// step with its implementation too).
//   octet_plan_profile MODEL.onnx [--quantize] [--weight-bits N] [--int8] [--steps] [--batch N]
//                      [--runs N] [--threads N]
// Inputs are Fashion-MNIST test images for models taking [N,1,28,28] (the fixtures), from
// /usr/share/datasets/fashion-mnist, else seeded standard-normal values of the model's input
// shape; calibration uses the same inputs.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <string>

#include "engine/io/idx.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/quant/post_training_quantizer.h"
#include "engine/runtime/session.h"

namespace {

int Fail(const std::string& message) {
  std::cerr << "octet_plan_profile: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    return Fail(
        "usage: octet_plan_profile MODEL.onnx [--quantize] [--weight-bits N] [--int8] [--steps] "
        "[--batch N] [--runs N] [--threads N]");
  }
  bool quantize = false, int8 = false, print_steps = false;
  int batch = 500, runs = 5, threads = 2, weight_bits = 8;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quantize") {
      quantize = true;
    } else if (arg == "--int8") {
      int8 = true;
    } else if (arg == "--steps") {
      print_steps = true;
    } else if ((arg == "--batch" || arg == "--runs" || arg == "--threads" ||
                arg == "--weight-bits") &&
               i + 1 < argc) {
      const int value = std::atoi(argv[++i]);
      if (value < 1) return Fail(arg + " must be positive");
      (arg == "--batch"     ? batch
       : arg == "--runs"    ? runs
       : arg == "--threads" ? threads
                            : weight_bits) = value;
    } else {
      return Fail("unknown argument " + arg);
    }
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) return Fail(std::string("cannot open ") + argv[1]);
  std::string model((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  absl::StatusOr<octet::Graph> float_graph = octet::ImportOnnxModel(model);
  if (!float_graph.ok()) return Fail(std::string(float_graph.status().message()));
  if (float_graph->inputs.size() != 1 || !float_graph->inputs[0].shape.has_value()) {
    return Fail("the model must have one input of known rank");
  }
  octet::Shape shape = {batch};
  for (size_t i = 1; i < float_graph->inputs[0].shape->size(); ++i) {
    shape.push_back((*float_graph->inputs[0].shape)[i].is_static()
                        ? (*float_graph->inputs[0].shape)[i].size
                        : 1);
  }
  absl::StatusOr<octet::Tensor> x = octet::Tensor::Create(octet::DataType::kFloat32, shape);
  if (!x.ok()) return Fail(std::string(x.status().message()));
  if (shape == octet::Shape{batch, 1, 28, 28}) {
    absl::StatusOr<octet::Tensor> images =
        octet::ReadIdxFile("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", batch);
    if (!images.ok()) return Fail(std::string(images.status().message()));
    for (int64_t i = 0; i < x->element_count(); ++i) {
      x->data<float>()[i] = images->data<uint8_t>()[i] / 255.0f;
    }
  } else {
    std::mt19937 generator(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int64_t i = 0; i < x->element_count(); ++i) x->data<float>()[i] = normal(generator);
  }
  if (quantize) {
    octet::SampleSet samples;
    samples.inputs.emplace_back(float_graph->inputs[0].name, x->Clone());
    octet::QuantizationRequest request;
    request.model = model;
    request.calibration = &samples;
    request.evaluation = &samples;
    request.split_layer_errors = false;
    request.num_threads = threads;
    request.config.weights.bits = weight_bits;
    absl::StatusOr<octet::QuantizationResult> result = octet::QuantizeModel(request);
    if (!result.ok()) return Fail(std::string(result.status().message()));
    model = result->model;
  }
  absl::StatusOr<octet::Graph> graph = octet::ImportOnnxModel(model);
  if (!graph.ok()) return Fail(std::string(graph.status().message()));
  const std::string input = graph->inputs.at(0).name;
  octet::SessionOptions options;
  options.num_threads = threads;
  options.profile = true;
  options.lower_int8 = int8;
  absl::StatusOr<std::unique_ptr<octet::Session>> session =
      octet::Session::Create(*std::move(graph), options);
  if (!session.ok()) return Fail(std::string(session.status().message()));
  for (int r = 0; r < runs; ++r) {
    absl::StatusOr<std::vector<octet::Tensor>> out = (*session)->Run({{input, *x}});
    if (!out.ok()) return Fail(std::string(out.status().message()));
  }
  absl::StatusOr<std::vector<octet::StepDescription>> steps = (*session)->Describe({{input, *x}});
  if (!steps.ok()) return Fail(std::string(steps.status().message()));
  std::map<std::string, double> by_op;
  double total = 0;
  for (const octet::StepDescription& step : *steps) {
    by_op[step.op_type] += step.mean_ms;
    total += step.mean_ms;
    if (print_steps) {
      std::cout << step.op_type << " " << step.implementation << " " << step.mean_ms << " ms";
      std::cout << " " << step.nodes;
      if (!step.notes.empty()) std::cout << " (" << step.notes << ")";
      std::cout << "\n";
    }
  }
  for (const auto& [op, ms] : by_op) std::cout << op << " " << ms << " ms\n";
  std::cout << "total " << total << " ms per run of " << batch << " images\n";
  return 0;
}
