#include "engine/quant/evaluator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/quant/calibrator.h"
#include "engine/runtime/session.h"

namespace octet {
namespace {

struct ErrorSums {
  double signal = 0.0;
  double noise = 0.0;
};

void Accumulate(const Tensor& x, const Tensor& y, ErrorSums* sums) {
  const float* a = x.data<float>();
  const float* b = y.data<float>();
  for (int64_t i = 0; i < x.element_count(); ++i) {
    sums->signal += static_cast<double>(a[i]) * a[i];
    const double d = static_cast<double>(a[i]) - b[i];
    sums->noise += d * d;
  }
}

// The argmax over the last axis of each row of `t` (float32, rank >= 1).
std::vector<int64_t> ArgMaxRows(const Tensor& t) {
  const int64_t classes = t.rank() == 0 ? 1 : t.dim(t.rank() - 1);
  const int64_t rows = classes == 0 ? 0 : t.element_count() / classes;
  std::vector<int64_t> result(rows);
  const float* data = t.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    result[r] =
        std::max_element(data + r * classes, data + (r + 1) * classes) - (data + r * classes);
  }
  return result;
}

}  // namespace

double SqnrDb(double signal, double noise) {
  if (noise == 0.0) return std::numeric_limits<double>::infinity();
  if (signal == 0.0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

absl::StatusOr<Comparison> CompareGraphs(const Graph& reference, const Graph& candidate,
                                         const SampleSet& data, const ComparisonRun& run) {
  OCTET_RETURN_IF_ERROR(ValidateSampleSet(reference, data));
  // The named output, or the first float32 one (a model may put integer results first).
  std::string output = run.output;
  if (output.empty()) {
    for (const ValueInfo& o : reference.outputs) {
      if (o.type == DataType::kFloat32) {
        output = o.name;
        break;
      }
    }
    if (output.empty()) {
      return absl::InvalidArgumentError("the model has no float32 output to compare");
    }
  }
  bool known_output = false;
  for (const ValueInfo& o : reference.outputs) known_output |= o.name == output;
  if (!known_output) {
    return absl::InvalidArgumentError(absl::StrCat("the model has no output '", output, "'"));
  }
  std::vector<std::string> fetched = {output};
  fetched.insert(fetched.end(), run.tensors.begin(), run.tensors.end());
  // The reference also gives the values held to a range, after the compared ones.
  std::vector<std::string> reference_fetched = fetched;
  std::vector<std::string> reference_extra = run.tensors;
  for (const auto& [name, range] : run.coverage) {
    reference_fetched.push_back(name);
    reference_extra.push_back(name);
  }
  SessionOptions options;
  options.num_threads = run.num_threads;
  // Simulated quantization: the pipeline's reference (the int8 kernels are held to it).
  options.lower_int8 = false;
  OCTET_ASSIGN_OR_RETURN(
      std::unique_ptr<Session> a,
      CreateSession(run.batch_runner, WithExtraOutputs(reference, reference_extra), options));
  OCTET_ASSIGN_OR_RETURN(
      std::unique_ptr<Session> b,
      CreateSession(run.batch_runner, WithExtraOutputs(candidate, run.tensors), options));
  const int64_t batch_size = BatchSizeFor(reference, run.batch_size);
  const bool fixed_batch = batch_size != run.batch_size;
  std::vector<ErrorSums> sums(fetched.size());
  std::vector<RangeCoverage> coverage(run.coverage.size());
  int64_t correct_a = 0, correct_b = 0, agree = 0, rows = 0;
  const int total_batches = static_cast<int>(
      fixed_batch ? data.size() / batch_size : (data.size() + batch_size - 1) / batch_size);
  int batches_done = 0;
  for (int64_t first = 0; first < data.size(); first += batch_size) {
    if (run.progress && batches_done > 0 && !run.progress(batches_done, total_batches)) {
      return absl::CancelledError("cancelled during evaluation");
    }
    ++batches_done;
    const int64_t count = std::min(batch_size, data.size() - first);
    if (fixed_batch && count < batch_size) break;
    const std::vector<NamedTensor> inputs = SliceSamples(data, first, count);
    std::vector<Tensor> x, y;
    OCTET_RETURN_IF_ERROR(RunBatch(run.batch_runner, [&]() -> absl::Status {
      OCTET_ASSIGN_OR_RETURN(x, a->Run(inputs, reference_fetched));
      OCTET_ASSIGN_OR_RETURN(y, b->Run(inputs, fetched));
      return absl::OkStatus();
    }));
    for (size_t i = 0; i < fetched.size(); ++i) {
      if (x[i].type() != DataType::kFloat32 || y[i].type() != DataType::kFloat32 ||
          x[i].shape() != y[i].shape()) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", fetched[i], "' is not float32 of one shape in both models"));
      }
      Accumulate(x[i], y[i], &sums[i]);
    }
    for (size_t j = 0; j < run.coverage.size(); ++j) {
      const Tensor& values = x[fetched.size() + j];
      if (values.type() != DataType::kFloat32) continue;
      coverage[j].Add(absl::Span<const float>(values.data<float>(), values.element_count()),
                      run.coverage[j].second);
    }
    const std::vector<int64_t> top_a = ArgMaxRows(x[0]);
    const std::vector<int64_t> top_b = ArgMaxRows(y[0]);
    if (static_cast<int64_t>(top_a.size()) != count) {
      return absl::InvalidArgumentError(
          absl::StrCat("output '", output, "' does not have one row per sample"));
    }
    for (int64_t r = 0; r < count; ++r) {
      agree += top_a[r] == top_b[r];
      if (data.has_labels()) {
        correct_a += top_a[r] == data.labels[first + r];
        correct_b += top_b[r] == data.labels[first + r];
      }
    }
    rows += count;
  }
  if (rows == 0) return absl::InvalidArgumentError("no complete batch to evaluate");
  Comparison result;
  result.samples = rows;
  if (data.has_labels()) {
    result.reference_top1 = static_cast<double>(correct_a) / rows;
    result.candidate_top1 = static_cast<double>(correct_b) / rows;
  }
  result.top1_agreement = static_cast<double>(agree) / rows;
  result.output_sqnr_db = SqnrDb(sums[0].signal, sums[0].noise);
  result.coverage = std::move(coverage);
  for (size_t i = 1; i < sums.size(); ++i) {
    result.tensor_sqnr_db.push_back(SqnrDb(sums[i].signal, sums[i].noise));
  }
  return result;
}

}  // namespace octet
