#include "engine/quant/calibrator.h"

#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/passes/batch_norm_folding.h"
#include "engine/quant/observers/auto_observer.h"
#include "engine/runtime/session.h"

namespace octet {

Graph WithExtraOutputs(const Graph& graph, const std::vector<std::string>& values) {
  Graph extended = graph;
  absl::flat_hash_set<std::string> outputs;
  for (const ValueInfo& output : graph.outputs) outputs.insert(output.name);
  for (const std::string& value : values) {
    if (!outputs.insert(value).second) continue;
    ValueInfo info;
    info.name = value;
    info.type = graph.TypeOf(value).value_or(DataType::kFloat32);
    extended.outputs.push_back(std::move(info));
  }
  return extended;
}

Graph WithOutputsOnly(const Graph& graph, const std::vector<std::string>& values) {
  Graph part = WithExtraOutputs(graph, values);
  const absl::flat_hash_set<std::string> wanted(values.begin(), values.end());
  std::vector<ValueInfo> outputs;
  for (ValueInfo& output : part.outputs) {
    if (wanted.contains(output.name)) outputs.push_back(std::move(output));
  }
  part.outputs = std::move(outputs);
  absl::flat_hash_set<std::string> needed = wanted;
  std::vector<bool> keep(part.nodes.size(), false);
  for (size_t i = part.nodes.size(); i-- > 0;) {
    const Node& node = part.nodes[i];
    for (const std::string& output : node.outputs) keep[i] = keep[i] || needed.contains(output);
    if (keep[i]) needed.insert(node.inputs.begin(), node.inputs.end());
  }
  std::vector<Node> nodes;
  for (size_t i = 0; i < part.nodes.size(); ++i) {
    if (keep[i]) nodes.push_back(std::move(part.nodes[i]));
  }
  part.nodes = std::move(nodes);
  RemoveUnusedConstants(&part);
  return part;
}

absl::StatusOr<CalibrationStatistics> CalibrateRanges(const Graph& graph,
                                                      const std::vector<std::string>& tensors,
                                                      const SampleSet& data,
                                                      const CalibrationRun& run,
                                                      const BatchProgress& progress) {
  OCTET_RETURN_IF_ERROR(ValidateSampleSet(graph, data));
  SessionOptions session_options;
  session_options.num_threads = run.num_threads;
  session_options.lower_int8 = false;
  OCTET_ASSIGN_OR_RETURN(
      std::unique_ptr<Session> session,
      CreateSession(run.batch_runner, WithExtraOutputs(graph, tensors), session_options));
  std::vector<std::unique_ptr<RangeObserver>> observers;
  for (size_t i = 0; i < tensors.size(); ++i) {
    OCTET_ASSIGN_OR_RETURN(std::unique_ptr<RangeObserver> observer, MakeRangeObserver(run.options));
    observers.push_back(std::move(observer));
  }
  const int64_t batch_size = BatchSizeFor(graph, run.batch_size);
  const int64_t batches =
      std::min<int64_t>(BatchCount(data.size(), batch_size, run.batch_size), run.max_batches);
  if (batches == 0) {
    return absl::InvalidArgumentError(absl::StrCat("the model takes batches of ", batch_size,
                                                   " samples; the calibration data has ",
                                                   data.size()));
  }
  std::vector<std::vector<double>> sums(tensors.size());
  std::vector<int64_t> counts(tensors.size(), 0);
  // Each batch's values are written over the last one's.
  std::vector<Tensor> values;
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t first = b * batch_size;
    const int64_t count = std::min(batch_size, data.size() - first);
    OCTET_RETURN_IF_ERROR(RunBatch(run.batch_runner, [&]() -> absl::Status {
      return session->RunInto(SliceSamples(data, first, count), tensors, &values);
    }));
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (values[i].type() != DataType::kFloat32) {
        return absl::InvalidArgumentError(absl::StrCat("'", tensors[i], "' is not float32"));
      }
      absl::Status status = observers[i]->Observe(values[i].values<float>());
      if (!status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("calibration batch ", b, ", tensor '",
                                                       tensors[i], "': ", status.message()));
      }
      const Tensor& t = values[i];
      if (t.rank() >= 2 && t.element_count() > 0) {
        const int64_t channels = t.dim(1);
        const int64_t inner = t.element_count() / (t.dim(0) * channels);
        sums[i].resize(channels, 0.0);
        const float* data = t.data<float>();
        for (int64_t n = 0; n < t.dim(0); ++n) {
          for (int64_t c = 0; c < channels; ++c) {
            const float* block = data + (n * channels + c) * inner;
            double sum = 0.0;
            for (int64_t k = 0; k < inner; ++k) sum += block[k];
            sums[i][c] += sum;
          }
        }
        counts[i] += t.dim(0) * inner;
      }
    }
    if (progress && !progress(static_cast<int>(b + 1), static_cast<int>(batches))) {
      return absl::CancelledError(absl::StrCat("cancelled after calibration batch ", b + 1));
    }
  }
  CalibrationStatistics statistics;
  for (size_t i = 0; i < tensors.size(); ++i) {
    RangeTarget target = run.target;
    const auto space = run.error_spaces.find(tensors[i]);
    if (space != run.error_spaces.end()) target.error_space = space->second;
    OCTET_ASSIGN_OR_RETURN(statistics.ranges[tensors[i]], observers[i]->Range(target));
    if (const auto* automatic = dynamic_cast<const AutoObserver*>(observers[i].get())) {
      OCTET_ASSIGN_OR_RETURN(auto candidates, automatic->CandidateRanges(target));
      statistics.candidate_ranges.resize(candidates.size());
      for (size_t k = 0; k < candidates.size(); ++k) {
        statistics.candidate_ranges[k].first = candidates[k].first;
        statistics.candidate_ranges[k].second[tensors[i]] = candidates[k].second;
      }
    }
    if (counts[i] == 0) continue;
    std::vector<double>& means = statistics.channel_means[tensors[i]];
    for (double sum : sums[i]) means.push_back(sum / counts[i]);
  }
  return statistics;
}

}  // namespace octet
