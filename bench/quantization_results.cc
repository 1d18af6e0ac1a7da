// The quantization results table (README, "Quantization results"): every configuration of the
// whitepaper's study on the Fashion-MNIST fixture models, calibrated on training images and
// evaluated on the full test set. Prints a Markdown table; bench/run_quantization_results.sh
// adds the PyTorch peer and the torchvision MobileNetV2 rows.
//
//   octet_quantization_results MODEL.onnx [MODEL.onnx ...]
//     --dataset DIR (default /usr/share/datasets/fashion-mnist) --threads N --only NAME
//   octet_quantization_results --export DIR [--weight_bits N] MODEL.onnx...
//     the default configuration only (with N-bit weights), writing DIR/NAME.qdq.onnx,
//     NAME.report.json, and the first 1,000 test images with Octet's outputs on them
//     (NAME.inputs.npy, NAME.octet.npy) for bench/check_qdq_with_ort.sh.
//   octet_quantization_results --random_inputs MODEL.onnx
//     the per-layer collapse study: no labels; 64 calibration and 32 evaluation inputs drawn
//     from a seeded standard normal distribution; the granularity rows only.
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/io/idx.h"
#include "engine/io/npy.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/quant/post_training_quantizer.h"
#include "engine/runtime/session.h"
#include "nlohmann/json.hpp"

namespace octet {
namespace {

struct NamedConfig {
  std::string name;
  QuantizationConfig config;
};

std::vector<NamedConfig> StudyConfigs() {
  std::vector<NamedConfig> configs;
  // Rows named "default ..." and "calibration: ..." start from Octet's default configuration;
  // the others study the whitepaper's choices, with its nearest rounding unless they say otherwise.
  auto add = [&](std::string name, auto edit) {
    QuantizationConfig config;
    if (name.rfind("default", 0) != 0 && name.rfind("calibration", 0) != 0) {
      config.weights.rounding = Rounding::kNearest;
    }
    edit(config);
    configs.push_back({std::move(name), config});
  };
  add("default (W8 sym per-channel GPTQ-rounded, A8 asym, auto calibration)",
      [](QuantizationConfig&) {});
  // What a job makes by default for an AVX2 CPU without VNNI (--target-cpu avx2 or auto there).
  add("default for AVX2 without VNNI (W7)", [](QuantizationConfig& c) { c.weights.bits = 7; });
  add("default with nearest rounding",
      [](QuantizationConfig& c) { c.weights.rounding = Rounding::kNearest; });
  add("default without bias correction", [](QuantizationConfig& c) { c.bias_correction = false; });
  add("default with empirical bias correction",
      [](QuantizationConfig& c) { c.empirical_bias_correction = true; });
  add("weights only, 8-bit per-tensor", [](QuantizationConfig& c) {
    c.mode = QuantizationMode::kWeightsOnly;
    c.weights.per_channel = false;
  });
  add("weights only, 8-bit per-channel",
      [](QuantizationConfig& c) { c.mode = QuantizationMode::kWeightsOnly; });
  add("W8A8 asymmetric per-layer weights", [](QuantizationConfig& c) {
    c.weights.scheme = QuantizationScheme::kAsymmetric;
    c.weights.per_channel = false;
    c.weights.narrow_range = false;
  });
  add("W8A8 symmetric per-channel weights", [](QuantizationConfig&) {});
  add("W7A8 symmetric per-channel weights", [](QuantizationConfig& c) { c.weights.bits = 7; });
  add("W8A8 asymmetric per-channel weights", [](QuantizationConfig& c) {
    c.weights.scheme = QuantizationScheme::kAsymmetric;
    c.weights.narrow_range = false;
  });
  add("W8A8 asymmetric per-layer weights, bias correction off", [](QuantizationConfig& c) {
    c.weights.scheme = QuantizationScheme::kAsymmetric;
    c.weights.per_channel = false;
    c.weights.narrow_range = false;
    c.bias_correction = false;
  });
  add("W4A8 per-channel (4-bit weights)", [](QuantizationConfig& c) { c.weights.bits = 4; });
  add("W4A8 per-channel, stochastic rounding", [](QuantizationConfig& c) {
    c.weights.bits = 4;
    c.weights.rounding = Rounding::kStochastic;
    c.weights.seed = 1;
  });
  add("W8A8 per-channel, stochastic rounding", [](QuantizationConfig& c) {
    c.weights.rounding = Rounding::kStochastic;
    c.weights.seed = 1;
  });
  add("W4A8 per-channel, GPTQ rounding", [](QuantizationConfig& c) {
    c.weights.bits = 4;
    c.weights.rounding = Rounding::kGptq;
  });
  for (auto method : {CalibrationMethod::kMinMax, CalibrationMethod::kMovingAverageMinMax,
                      CalibrationMethod::kPercentile, CalibrationMethod::kEntropy,
                      CalibrationMethod::kMse, CalibrationMethod::kAuto}) {
    add(absl::StrCat("calibration: ", CalibrationMethodName(method)),
        [method](QuantizationConfig& c) { c.calibration.method = method; });
  }
  return configs;
}

absl::StatusOr<SampleSet> LoadSamples(const std::string& dir, const std::string& prefix,
                                      int64_t count, const std::string& input_name) {
  auto images = ReadIdxFile(absl::StrCat(dir, "/", prefix, "-images-idx3-ubyte.gz"), count);
  if (!images.ok()) return images.status();
  auto labels = ReadIdxFile(absl::StrCat(dir, "/", prefix, "-labels-idx1-ubyte.gz"), count);
  if (!labels.ok()) return labels.status();
  const int64_t n = images->dim(0);
  auto pixels = Tensor::Create(DataType::kFloat32, {n, 1, images->dim(1), images->dim(2)});
  if (!pixels.ok()) return pixels.status();
  for (int64_t i = 0; i < images->element_count(); ++i) {
    pixels->data<float>()[i] = images->data<uint8_t>()[i] / 255.0f;
  }
  SampleSet set;
  set.inputs.emplace_back(input_name, *std::move(pixels));
  for (int64_t i = 0; i < n; ++i) set.labels.push_back(labels->data<uint8_t>()[i]);
  return set;
}

// `count` samples for the model's single input, each value drawn from N(0, 1) (seeded).
absl::StatusOr<SampleSet> RandomSamples(const std::string& model, int64_t count, uint32_t seed) {
  absl::StatusOr<Graph> graph = ImportOnnxModel(model);
  if (!graph.ok()) return graph.status();
  if (graph->inputs.size() != 1 || !graph->inputs[0].shape.has_value()) {
    return absl::InvalidArgumentError("random inputs need a model with one input of known rank");
  }
  Shape shape = {count};
  const auto& dims = *graph->inputs[0].shape;
  for (size_t i = 1; i < dims.size(); ++i) {
    if (!dims[i].is_static()) return absl::InvalidArgumentError("dynamic non-batch dims");
    shape.push_back(dims[i].size);
  }
  auto tensor = Tensor::Create(DataType::kFloat32, shape);
  if (!tensor.ok()) return tensor.status();
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t i = 0; i < tensor->element_count(); ++i)
    tensor->data<float>()[i] = normal(generator);
  SampleSet set;
  set.inputs.emplace_back(graph->inputs[0].name, *std::move(tensor));
  return set;
}

absl::Status Export(const QuantizationResult& result, const SampleSet& evaluation,
                    const std::string& dir, const std::string& name) {
  std::ofstream(absl::StrCat(dir, "/", name, ".qdq.onnx"), std::ios::binary) << result.model;
  std::ofstream(absl::StrCat(dir, "/", name, ".report.json")) << result.report_json;
  const std::vector<NamedTensor> inputs = SliceSamples(evaluation, 0, 1000);
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(result.quantized_graph, {});
  if (!session.ok()) return session.status();
  absl::StatusOr<std::vector<Tensor>> outputs = (*session)->Run(inputs);
  if (!outputs.ok()) return outputs.status();
  absl::Status status = WriteNpyFile(absl::StrCat(dir, "/", name, ".inputs.npy"), inputs[0].second);
  if (!status.ok()) return status;
  return WriteNpyFile(absl::StrCat(dir, "/", name, ".octet.npy"), (*outputs)[0]);
}

std::string Percent(double value) { return absl::StrFormat("%.2f", 100.0 * value); }
std::string Decibels(double value) {
  return std::isfinite(value) ? absl::StrFormat("%.1f", value) : std::string("exact");
}

int Main(int argc, char** argv) {
  std::string dataset = "/usr/share/datasets/fashion-mnist";
  std::string only;
  int threads = 2;
  bool random_inputs = false;
  std::string export_dir;
  int export_weight_bits = 8;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dataset" && i + 1 < argc) {
      dataset = argv[++i];
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = std::stoi(argv[++i]);
    } else if (arg == "--export" && i + 1 < argc) {
      export_dir = argv[++i];
    } else if (arg == "--weight_bits" && i + 1 < argc) {
      export_weight_bits = std::stoi(argv[++i]);
    } else if (arg == "--random_inputs") {
      random_inputs = true;
    } else if (arg == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      models.push_back(arg);
    }
  }
  if (models.empty()) {
    std::cerr << "usage: octet_quantization_results MODEL.onnx... [--dataset DIR] [--threads N]\n";
    return 2;
  }
  // Per calibration method: summed top-1 agreement and output SQNR, and how many models.
  std::map<std::string, std::pair<double, double>> method_scores;
  std::map<std::string, int> method_models;
  std::cout << "| model | configuration | float top-1 | quantized top-1 | change (points) | "
               "top-1 agreement | output SQNR (dB) |\n|---|---|---|---|---|---|---|\n";
  // 100 batches of 32 training images calibrate; the 10,000 test images evaluate (read once for
  // every model; random inputs depend on each model's input shape).
  absl::StatusOr<SampleSet> images_calibration, images_evaluation;
  if (!random_inputs) {
    images_calibration = LoadSamples(dataset, "train", 3200, "image");
    images_evaluation = LoadSamples(dataset, "t10k", 10000, "image");
  }
  for (const std::string& path : models) {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string model_name = path.substr(path.find_last_of('/') + 1);
    const absl::StatusOr<SampleSet> calibration =
        random_inputs ? RandomSamples(bytes, 64, 1) : images_calibration;
    const absl::StatusOr<SampleSet> evaluation =
        random_inputs ? RandomSamples(bytes, 32, 2) : images_evaluation;
    if (!calibration.ok() || !evaluation.ok()) {
      std::cerr << "cannot load samples: "
                << (calibration.ok() ? evaluation.status() : calibration.status()) << "\n";
      return 1;
    }
    const std::vector<NamedConfig> configs = StudyConfigs();
    for (NamedConfig named : configs) {
      if (!only.empty() && named.name.find(only) == std::string::npos) continue;
      const bool granularity_row = named.name.find("weights") != std::string::npos &&
                                   named.name.find("stochastic") == std::string::npos &&
                                   named.name.find("4-bit") == std::string::npos;
      if (random_inputs && !granularity_row) continue;
      if (!export_dir.empty()) {
        if (named.name != configs.front().name) continue;  // the default configuration
        named.config.weights.bits = export_weight_bits;
      }
      if (random_inputs) {
        named.config.batch_size = 8;
        // The whitepaper's Table 3 has no bias correction; one row shows what it recovers.
        if (named.name.find("bias correction") == std::string::npos) {
          named.config.bias_correction = false;
        } else {
          named.name = "W8A8 asymmetric per-layer weights, bias correction on";
          named.config.bias_correction = true;
        }
      }
      QuantizationRequest request;
      request.model = bytes;
      request.config = named.config;
      request.calibration = &*calibration;
      request.evaluation = &*evaluation;
      request.num_threads = threads;
      request.split_layer_errors = false;
      absl::StatusOr<QuantizationResult> result = QuantizeModel(request);
      if (!result.ok()) {
        std::cerr << model_name << " / " << named.name << ": " << result.status() << "\n";
        return 1;
      }
      if (!export_dir.empty()) {
        absl::Status written =
            Export(*result, *evaluation, export_dir, model_name.substr(0, model_name.find('.')));
        if (!written.ok()) {
          std::cerr << written << "\n";
          return 1;
        }
      }
      const Comparison& c = *result->evaluation;
      if (named.name.rfind("calibration: ", 0) == 0) {
        method_scores[named.name].first += c.top1_agreement.value_or(0.0);
        method_scores[named.name].second += c.output_sqnr_db;
        ++method_models[named.name];
      }
      std::string label = named.name;
      if (named.config.mode != QuantizationMode::kWeightsOnly &&
          named.config.calibration.method == CalibrationMethod::kAuto) {
        // Which candidate the job kept.
        const nlohmann::json report = nlohmann::json::parse(result->report_json);
        label +=
            absl::StrCat(" [auto kept ", report["calibration"]["method"].get<std::string>(), "]");
      }
      std::cout << "| " << model_name << " | " << label << " | ";
      if (c.reference_top1.has_value()) {
        std::cout << Percent(*c.reference_top1) << " | " << Percent(*c.candidate_top1) << " | "
                  << absl::StrFormat("%+.2f", 100.0 * (*c.candidate_top1 - *c.reference_top1));
      } else {
        std::cout << "n/a | n/a | n/a";
      }
      std::cout << " | " << (c.top1_agreement ? Percent(*c.top1_agreement) : std::string("n/a"))
                << " | " << Decibels(c.output_sqnr_db) << " |" << std::endl;
    }
  }
  if (!method_scores.empty() && !random_inputs) {
    // The default calibration method is the one whose quantized models agree most often with
    // their float originals, averaged over the models (agreement counts answers that change,
    // which is what a user trusts; top-1 accuracy moves by a few images either way).
    auto best = method_scores.begin();
    for (auto it = method_scores.begin(); it != method_scores.end(); ++it) {
      if (it->second.first > best->second.first) best = it;
    }
    const int n = method_models[best->first];
    std::cout << "\nBest " << best->first << " (mean top-1 agreement "
              << Percent(best->second.first / n) << "%, mean output SQNR "
              << Decibels(best->second.second / n) << " dB over " << n << " models)\n";
  }
  return 0;
}

}  // namespace
}  // namespace octet

int main(int argc, char** argv) { return octet::Main(argc, argv); }
