// Times Octet's float runtime on one model: octet_float_bench MODEL.onnx BATCH THREADS RUNS
// Dynamic input dims become BATCH (first dim) or stay as declared; inputs are pseudo-random.
// Prints one JSON line: {"median_ms", "mean_ms", "min_ms", "max_ms", "runs"} over RUNS timed runs
// after two warm-up runs (which build the plan).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <numeric>
#include <random>

#include "engine/onnx/onnx_importer.h"
#include "engine/runtime/session.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: octet_float_bench MODEL.onnx BATCH THREADS RUNS\n";
    return 2;
  }
  const int batch = std::atoi(argv[2]), threads = std::atoi(argv[3]), runs = std::atoi(argv[4]);
  std::ifstream in(argv[1], std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  absl::StatusOr<octet::Graph> graph = octet::ImportOnnxModel(bytes);
  if (!graph.ok()) {
    std::cerr << graph.status() << "\n";
    return 1;
  }
  octet::SessionOptions options;
  options.num_threads = threads;
  absl::StatusOr<std::unique_ptr<octet::Session>> session =
      octet::Session::Create(*std::move(graph), options);
  if (!session.ok()) {
    std::cerr << session.status() << "\n";
    return 1;
  }
  std::vector<octet::NamedTensor> inputs;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (const octet::ValueInfo& input : (*session)->inputs()) {
    octet::Shape shape;
    for (size_t i = 0; i < input.shape->size(); ++i) {
      const octet::Dim& d = (*input.shape)[i];
      shape.push_back(d.is_static() ? d.size : (i == 0 ? batch : 1));
    }
    octet::Tensor t = *octet::Tensor::Create(input.type, shape);
    for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = uniform(rng);
    inputs.emplace_back(input.name, t);
  }
  std::vector<double> times;
  for (int r = 0; r < runs + 2; ++r) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<octet::Tensor>> out = (*session)->Run(inputs);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!out.ok()) {
      std::cerr << out.status() << "\n";
      return 1;
    }
    if (r >= 2) times.push_back(ms);
  }
  const double mean = std::accumulate(times.begin(), times.end(), 0.0) / times.size();
  std::sort(times.begin(), times.end());
  std::cout << "{\"median_ms\": " << times[times.size() / 2] << ", \"mean_ms\": " << mean
            << ", \"min_ms\": " << times.front()
            << ", \"max_ms\": " << times.back() << ", \"runs\": " << times.size() << "}\n";
  return 0;
}
