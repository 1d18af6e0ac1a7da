// Samples for calibration and evaluation: one tensor per model input, samples along the first
// dimension, and optionally one integer label per sample.
#ifndef OCTET_ENGINE_QUANT_SAMPLE_SET_H_
#define OCTET_ENGINE_QUANT_SAMPLE_SET_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/ir/graph.h"
#include "engine/runtime/session.h"

namespace octet {

// Runs one batch's computation (a plan over one batch of samples). A scheduler hook: the server
// runs each batch of a quantization job on the executor that serves inference, so that jobs and
// inference share the cores batch by batch; unset, the batch runs directly.
using BatchRunner = std::function<absl::Status(const std::function<absl::Status()>&)>;

// Runs `work` through `runner`, or directly when there is none.
inline absl::Status RunBatch(const BatchRunner& runner, const std::function<absl::Status()>& work) {
  return runner ? runner(work) : work();
}

// Session::Create through `runner`: with static shapes it builds a plan at once, whose weight
// reorders run OpenMP teams, and a server keeps every OpenMP team on its workers (libgomp shortens
// every team's spin-waits for good once more threads have ever joined teams than there are
// cores).
absl::StatusOr<std::unique_ptr<Session>> CreateSession(const BatchRunner& runner, Graph graph,
                                                       const SessionOptions& options);

struct SampleSet {
  std::vector<NamedTensor> inputs;
  std::vector<int64_t> labels;  // empty, or one per sample

  // The number of samples (the first dim of the inputs).
  int64_t size() const { return inputs.empty() ? 0 : inputs[0].second.dim(0); }
  bool has_labels() const { return !labels.empty(); }
};

// OK when `set` names every input of `graph` once, each of rank >= 1 with the same number of
// samples (at least one), and labels (if any) number the same. INVALID_ARGUMENT naming the
// problem otherwise.
absl::Status ValidateSampleSet(const Graph& graph, const SampleSet& set);

// Samples [first, first + count) of every input, as the model's inputs.
std::vector<NamedTensor> SliceSamples(const SampleSet& set, int64_t first, int64_t count);

// Samples [first, first + count) as a set of their own (labels too).
SampleSet SubSet(const SampleSet& set, int64_t first, int64_t count);

// The batch size to run `graph` with: `requested`, unless an input fixes its first dimension.
int64_t BatchSizeFor(const Graph& graph, int64_t requested);

// How many batches of `batch_size` (BatchSizeFor(graph, requested)) go over `samples`: every
// sample, the last batch possibly short, unless the model fixes the batch size, then whole
// batches only.
int64_t BatchCount(int64_t samples, int64_t batch_size, int64_t requested);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_SAMPLE_SET_H_
