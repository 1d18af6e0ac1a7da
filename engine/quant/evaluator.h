// The EVALUATE stage: how far a quantized graph drifts from its float original, on the same
// samples: top-1 of each (with labels), top-1 agreement, output SQNR, and SQNR at given tensors
// (the per-layer report).
#ifndef OCTET_ENGINE_QUANT_EVALUATOR_H_
#define OCTET_ENGINE_QUANT_EVALUATOR_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/ir/graph.h"
#include "engine/quant/drift_statistics.h"
#include "engine/quant/sample_set.h"

namespace octet {

struct Comparison {
  int64_t samples = 0;
  // Set when the samples have labels.
  std::optional<double> reference_top1;
  std::optional<double> candidate_top1;
  double top1_agreement = 0.0;
  // 10 log10(sum x^2 / sum (x - y)^2) over the compared output; +inf when identical.
  double output_sqnr_db = 0.0;
  // One per requested tensor.
  std::vector<double> tensor_sqnr_db;
  // One per ComparisonRun::coverage entry: the reference's values against the range.
  std::vector<RangeCoverage> coverage;
};

struct ComparisonRun {
  // The output compared ("" = the first float32 one).
  std::string output;
  // Values present in both graphs, compared by name.
  std::vector<std::string> tensors;
  // Values of the reference held to a range (a quantized activation's): Comparison::coverage.
  std::vector<std::pair<std::string, ValueRange>> coverage;
  int batch_size = 32;
  int num_threads = 1;
  // Called after each batch with the batches done and the total; returning false ends the
  // comparison with CANCELLED.
  std::function<bool(int done, int total)> progress;
  BatchRunner batch_runner;
};

// Runs `reference` and `candidate` (same inputs and outputs) over `data` and compares them. The
// top-1 class is the argmax over the output's last axis.
absl::StatusOr<Comparison> CompareGraphs(const Graph& reference, const Graph& candidate,
                                         const SampleSet& data, const ComparisonRun& run);

// Signal-to-quantization-noise ratio in dB from the two sums; +inf when noise is 0.
double SqnrDb(double signal, double noise);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_EVALUATOR_H_
