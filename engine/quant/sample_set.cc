#include "engine/quant/sample_set.h"

#include <algorithm>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace octet {

absl::Status ValidateSampleSet(const Graph& graph, const SampleSet& set) {
  absl::flat_hash_set<std::string> given;
  for (const auto& [name, tensor] : set.inputs) {
    if (!given.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("input '", name, "' is given twice"));
    }
    if (tensor.rank() < 1 || tensor.dim(0) != set.inputs[0].second.dim(0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", name, "' must have the samples along its first dimension, as many as '",
          set.inputs[0].first, "'"));
    }
  }
  for (const ValueInfo& input : graph.inputs) {
    if (!given.contains(input.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the samples give no tensor for model input '", input.name, "'"));
    }
  }
  if (given.size() != graph.inputs.size()) {
    return absl::InvalidArgumentError("the samples give tensors the model has no input for");
  }
  if (set.size() == 0) return absl::InvalidArgumentError("the sample set is empty");
  if (set.has_labels() && static_cast<int64_t>(set.labels.size()) != set.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(set.labels.size(), " labels for ", set.size(), " samples"));
  }
  return absl::OkStatus();
}

std::vector<NamedTensor> SliceSamples(const SampleSet& set, int64_t first, int64_t count) {
  std::vector<NamedTensor> batch;
  for (const auto& [name, tensor] : set.inputs) {
    Shape shape = tensor.shape();
    const size_t sample_bytes = tensor.byte_size() / shape[0];
    shape[0] = count;
    absl::StatusOr<Tensor> slice = Tensor::FromBytes(
        tensor.type(), shape, static_cast<const uint8_t*>(tensor.raw_data()) + first * sample_bytes,
        count * sample_bytes);
    batch.emplace_back(name, *std::move(slice));
  }
  return batch;
}

SampleSet SubSet(const SampleSet& set, int64_t first, int64_t count) {
  SampleSet subset;
  subset.inputs = SliceSamples(set, first, count);
  if (set.has_labels()) {
    subset.labels.assign(set.labels.begin() + first, set.labels.begin() + first + count);
  }
  return subset;
}

int64_t BatchSizeFor(const Graph& graph, int64_t requested) {
  for (const ValueInfo& input : graph.inputs) {
    if (input.shape.has_value() && !input.shape->empty() && (*input.shape)[0].is_static()) {
      return std::max<int64_t>((*input.shape)[0].size, 1);
    }
  }
  return requested;
}

int64_t BatchCount(int64_t samples, int64_t batch_size, int64_t requested) {
  return batch_size != requested ? samples / batch_size : (samples + batch_size - 1) / batch_size;
}

absl::StatusOr<std::unique_ptr<Session>> CreateSession(const BatchRunner& runner, Graph graph,
                                                       const SessionOptions& options) {
  absl::StatusOr<std::unique_ptr<Session>> session;
  const absl::Status ran = RunBatch(runner, [&] {
    session = Session::Create(std::move(graph), options);
    return absl::OkStatus();
  });
  if (!ran.ok()) return ran;
  return session;
}

}  // namespace octet
