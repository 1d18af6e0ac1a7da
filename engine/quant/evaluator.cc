#include "engine/quant/evaluator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/quant/calibrator.h"
#include "engine/quant/drift_statistics.h"
#include "engine/runtime/session.h"

namespace octet {
namespace {

struct ErrorSums {
  double signal = 0.0;
  double noise = 0.0;
  bool incomparable = false;
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

// One output's running figures over the batches.
struct OutputSums {
  ErrorSums error;
  double cosine_sum = 0.0;
  int64_t cosine_rows = 0;
  double max_abs_error = 0.0;
  bool started = false;
  AgreementRule rule;
  AgreementCount agreement;
  std::string skipped;
};

void AccumulateOutput(const Tensor& x, const Tensor& y, int64_t samples, const ComparisonRun& run,
                      OutputSums* sums) {
  if (!sums->skipped.empty()) return;
  if (x.type() != DataType::kFloat32 || y.type() != DataType::kFloat32 || x.shape() != y.shape()) {
    sums->skipped = "its shapes differ between the float and the quantized model";
    return;
  }
  if (x.rank() == 0) {
    sums->skipped = "it is a scalar, not one value per sample";
    return;
  }
  if (!sums->started) {
    sums->started = true;
    sums->rule = ChooseAgreement(x.shape(), run.class_axis, run.threshold);
    if (sums->rule.kind == AgreementRule::Kind::kClass && x.dim(0) != samples) {
      sums->rule = AgreementRule();
      sums->rule.note = "it does not have one row per sample: no agreement metric applies";
    }
  }
  Accumulate(x, y, &sums->error);
  absl::StatusOr<std::vector<RowDrift>> rows = CompareRows(x, y);
  if (rows.ok()) {
    for (const RowDrift& row : *rows) {
      sums->cosine_sum += row.cosine;
      sums->max_abs_error = std::max(sums->max_abs_error, row.max_abs_error);
    }
    sums->cosine_rows += static_cast<int64_t>(rows->size());
  }
  const AgreementCount count = CountAgreement(x, y, sums->rule);
  sums->agreement.agree += count.agree;
  sums->agreement.positions += count.positions;
}

OutputComparison Finish(const std::string& name, const OutputSums& sums) {
  OutputComparison o;
  o.name = name;
  o.skipped = sums.skipped;
  o.rule = sums.rule;
  if (!sums.skipped.empty()) return o;
  o.sqnr_db = SqnrDb(sums.error.signal, sums.error.noise);
  o.cosine = sums.cosine_rows == 0 ? 0.0 : sums.cosine_sum / sums.cosine_rows;
  o.max_abs_error = sums.max_abs_error;
  if (sums.agreement.positions > 0) {
    o.agreement = static_cast<double>(sums.agreement.agree) / sums.agreement.positions;
  }
  return o;
}

}  // namespace

double SqnrDb(double signal, double noise) {
  if (noise == 0.0) return std::numeric_limits<double>::infinity();
  if (signal == 0.0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

absl::StatusOr<std::vector<Comparison>> CompareGraphs(const Graph& reference,
                                                      absl::Span<const Graph* const> candidates,
                                                      const SampleSet& data,
                                                      const ComparisonRun& run) {
  OCTET_RETURN_IF_ERROR(ValidateSampleSet(reference, data));
  // Every float32 output; the summary's is the named one, or the first float32 one (a model may
  // put integer results first).
  std::vector<std::string> outputs;
  for (const ValueInfo& o : reference.outputs) {
    if (o.type == DataType::kFloat32) outputs.push_back(o.name);
  }
  std::string output = run.output;
  if (output.empty()) {
    if (outputs.empty()) {
      return absl::InvalidArgumentError("the model has no float32 output to compare");
    }
    output = outputs[0];
  }
  bool known_output = false;
  for (const ValueInfo& o : reference.outputs) known_output |= o.name == output;
  if (!known_output) {
    return absl::InvalidArgumentError(absl::StrCat("the model has no output '", output, "'"));
  }
  const auto main = std::find(outputs.begin(), outputs.end(), output);
  if (main == outputs.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("output '", output, "' is not float32: it cannot be compared"));
  }
  const size_t main_index = main - outputs.begin();
  std::vector<std::string> fetched = outputs;
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
  // One session and one set of sums per candidate; the reference runs once per batch for all.
  struct CandidateSums {
    std::unique_ptr<Session> session;
    std::vector<ErrorSums> tensors;
    std::vector<OutputSums> outputs;
    int64_t correct = 0;
  };
  std::vector<CandidateSums> per_candidate(candidates.size());
  for (size_t k = 0; k < candidates.size(); ++k) {
    OCTET_ASSIGN_OR_RETURN(
        per_candidate[k].session,
        CreateSession(run.batch_runner, WithExtraOutputs(*candidates[k], run.tensors), options));
    per_candidate[k].tensors.resize(fetched.size());
    per_candidate[k].outputs.resize(outputs.size());
  }
  const int64_t batch_size = BatchSizeFor(reference, run.batch_size);
  const bool fixed_batch = batch_size != run.batch_size;
  std::vector<RangeCoverage> coverage(run.coverage.size());
  int64_t correct_reference = 0, rows = 0;
  const int total_batches = static_cast<int>(
      fixed_batch ? data.size() / batch_size : (data.size() + batch_size - 1) / batch_size);
  int batches_done = 0;
  // The reference's values, and one candidate's at a time: each run writes over the last one's.
  std::vector<Tensor> x, y;
  for (int64_t first = 0; first < data.size(); first += batch_size) {
    if (run.progress && batches_done > 0 && !run.progress(batches_done, total_batches)) {
      return absl::CancelledError("cancelled during evaluation");
    }
    ++batches_done;
    const int64_t count = std::min(batch_size, data.size() - first);
    if (fixed_batch && count < batch_size) break;
    const std::vector<NamedTensor> inputs = SliceSamples(data, first, count);
    OCTET_RETURN_IF_ERROR(RunBatch(run.batch_runner, [&]() -> absl::Status {
      return a->RunInto(inputs, reference_fetched, &x);
    }));
    for (size_t j = 0; j < run.coverage.size(); ++j) {
      const Tensor& values = x[fetched.size() + j];
      if (values.type() != DataType::kFloat32) continue;
      coverage[j].Add(absl::Span<const float>(values.data<float>(), values.element_count()),
                      run.coverage[j].second);
    }
    // Top-1 against the labels where the summary output has one class per sample (its rule is
    // the first candidate's, which every candidate shares: it follows the reference's shape).
    std::vector<int64_t> top_reference;
    for (CandidateSums& candidate : per_candidate) {
      OCTET_RETURN_IF_ERROR(RunBatch(run.batch_runner, [&]() -> absl::Status {
        return candidate.session->RunInto(inputs, fetched, &y);
      }));
      for (size_t i = 0; i < outputs.size(); ++i) {
        AccumulateOutput(x[i], y[i], count, run, &candidate.outputs[i]);
      }
      for (size_t i = outputs.size(); i < fetched.size(); ++i) {
        // A tensor the two models do not both hold as float32 of one shape has no SQNR (NaN,
        // not reported); it does not fail the evaluation.
        if (x[i].type() != DataType::kFloat32 || y[i].type() != DataType::kFloat32 ||
            x[i].shape() != y[i].shape()) {
          candidate.tensors[i].incomparable = true;
          continue;
        }
        Accumulate(x[i], y[i], &candidate.tensors[i]);
      }
      const OutputSums& summary = candidate.outputs[main_index];
      if (data.has_labels() && summary.skipped.empty() &&
          summary.rule.kind == AgreementRule::Kind::kClass && x[main_index].dim(0) == count) {
        if (top_reference.empty()) {
          top_reference = ArgMaxAlong(x[main_index], summary.rule.axis);
          for (int64_t r = 0; r < count; ++r) {
            correct_reference += top_reference[r] == data.labels[first + r];
          }
        }
        const std::vector<int64_t> top = ArgMaxAlong(y[main_index], summary.rule.axis);
        for (int64_t r = 0; r < count; ++r) candidate.correct += top[r] == data.labels[first + r];
      }
    }
    rows += count;
  }
  if (rows == 0) return absl::InvalidArgumentError("no complete batch to evaluate");
  std::vector<Comparison> results;
  for (const CandidateSums& candidate : per_candidate) {
    Comparison result;
    result.samples = rows;
    result.output = output;
    for (size_t i = 0; i < outputs.size(); ++i) {
      result.outputs.push_back(Finish(outputs[i], candidate.outputs[i]));
    }
    const OutputComparison& summary = result.outputs[main_index];
    result.output_sqnr_db = summary.sqnr_db;
    const bool classes =
        summary.skipped.empty() && summary.rule.kind == AgreementRule::Kind::kClass;
    if (classes) result.top1_agreement = summary.agreement;
    if (data.has_labels() && classes) {
      result.reference_top1 = static_cast<double>(correct_reference) / rows;
      result.candidate_top1 = static_cast<double>(candidate.correct) / rows;
    } else if (data.has_labels()) {
      result.notes.push_back(absl::StrCat("the samples have labels but output '", output,
                                          "' has no class per sample: top-1 is not measured"));
    }
    for (const OutputComparison& o : result.outputs) {
      if (!o.skipped.empty()) {
        result.notes.push_back(absl::StrCat("output '", o.name, "' not compared: ", o.skipped));
      } else if (!o.rule.note.empty()) {
        result.notes.push_back(absl::StrCat("output '", o.name, "': ", o.rule.note));
      }
    }
    for (size_t i = outputs.size(); i < fetched.size(); ++i) {
      const ErrorSums& sums = candidate.tensors[i];
      result.tensor_sqnr_db.push_back(sums.incomparable ? std::numeric_limits<double>::quiet_NaN()
                                                        : SqnrDb(sums.signal, sums.noise));
    }
    result.coverage = coverage;
    results.push_back(std::move(result));
  }
  return results;
}

absl::StatusOr<Comparison> CompareGraphs(const Graph& reference, const Graph& candidate,
                                         const SampleSet& data, const ComparisonRun& run) {
  const Graph* candidates[] = {&candidate};
  OCTET_ASSIGN_OR_RETURN(std::vector<Comparison> results,
                         CompareGraphs(reference, candidates, data, run));
  return std::move(results[0]);
}

}  // namespace octet
