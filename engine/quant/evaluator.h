// The EVALUATE stage: how far a quantized graph drifts from its float original, on the same
// samples, for any kind of output: per output SQNR, cosine and max error, and agreement (top-1,
// per-pixel or per-step argmax, thresholded maps); top-1 against labels; SQNR at given tensors
// (the per-layer report).
#ifndef OCTET_ENGINE_QUANT_EVALUATOR_H_
#define OCTET_ENGINE_QUANT_EVALUATOR_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/ir/graph.h"
#include "engine/quant/drift_statistics.h"
#include "engine/quant/output_agreement.h"
#include "engine/quant/sample_set.h"

namespace octet {

// One float32 output of both models compared over every sample.
struct OutputComparison {
  std::string name;
  // 10 log10(sum x^2 / sum (x - y)^2) over the output; +inf when identical.
  double sqnr_db = 0.0;
  // The mean over rows (first-axis indices) of each row's cosine similarity.
  double cosine = 0.0;
  double max_abs_error = 0.0;
  // How agreement is taken for this output (output_agreement.h), and its value where one applies.
  AgreementRule rule;
  std::optional<double> agreement;
  // Set when the output could not be compared (its shapes differ between the models, ...).
  std::string skipped;
};

struct Comparison {
  int64_t samples = 0;
  // The output the summary figures are of: the configured one, or the first float32 one.
  std::string output;
  // Top-1 of each model against the labels: when the samples have labels and `output` has one
  // class per sample.
  std::optional<double> reference_top1;
  std::optional<double> candidate_top1;
  // When `output` has one class per sample.
  std::optional<double> top1_agreement;
  double output_sqnr_db = 0.0;
  // Every float32 output, in graph order.
  std::vector<OutputComparison> outputs;
  // One per requested tensor.
  std::vector<double> tensor_sqnr_db;
  // One per ComparisonRun::coverage entry: the reference's values against the range.
  std::vector<RangeCoverage> coverage;
  // What was not measured, and why.
  std::vector<std::string> notes;
};

struct ComparisonRun {
  // The output of the summary figures ("" = the first float32 one).
  std::string output;
  // The class axis of every output (negative from the end); unset: each output's shape says.
  std::optional<int64_t> class_axis;
  // Single-channel maps agree where both values are above this or both are not.
  float threshold = 0.5f;
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

// Runs `reference` and `candidate` (same inputs and outputs) over `data` and compares every float32
// output: SQNR, cosine and max error always; agreement where the output's shape (or the configured
// axis) gives one (output_agreement.h). An output that cannot be compared is skipped with the
// reason, never an error.
absl::StatusOr<Comparison> CompareGraphs(const Graph& reference, const Graph& candidate,
                                         const SampleSet& data, const ComparisonRun& run);

// The same for several candidates at once, one result each, in order: the reference runs once per
// batch for all of them (one session per candidate is held meanwhile). `run.coverage` is of the
// reference, so every result holds the same.
absl::StatusOr<std::vector<Comparison>> CompareGraphs(const Graph& reference,
                                                      absl::Span<const Graph* const> candidates,
                                                      const SampleSet& data,
                                                      const ComparisonRun& run);

// Signal-to-quantization-noise ratio in dB from the two sums; +inf when noise is 0.
double SqnrDb(double signal, double noise);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_EVALUATOR_H_
