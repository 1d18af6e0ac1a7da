// The CALIBRATE stage: runs the float graph over calibration batches and feeds each tensor that
// will be quantized to its own observer.
#ifndef OCTET_ENGINE_QUANT_CALIBRATOR_H_
#define OCTET_ENGINE_QUANT_CALIBRATOR_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/ir/graph.h"
#include "engine/quant/observers/range_observer.h"
#include "engine/quant/sample_set.h"

namespace octet {

// Called after each batch with (batches done, batches in all); returning false cancels.
using BatchProgress = std::function<bool(int, int)>;

struct CalibrationRun {
  CalibrationOptions options;
  int batch_size = 32;
  int max_batches = 100;
  RangeTarget target;
  // Per tensor, where its error counts when not in its values (target.error_space otherwise).
  std::map<std::string, ErrorSpace> error_spaces;
  int num_threads = 1;
  BatchRunner batch_runner;
};

struct CalibrationStatistics {
  // Per tensor, the range its observer proposes.
  std::map<std::string, RealRange> ranges;
  // With the "auto" method: per candidate method (kAutoCandidates, in order), every tensor's
  // range; `ranges` then holds the first candidate's.
  std::vector<std::pair<CalibrationMethod, std::map<std::string, RealRange>>> candidate_ranges;
  // Per tensor of rank 2 or more, the mean of each channel (axis 1) over all samples: what bias
  // correction needs.
  std::map<std::string, std::vector<double>> channel_means;
};

// The statistics of every tensor in `tensors` (float values of `graph`) over `data`. CANCELLED
// when `progress` returns false; INVALID_ARGUMENT naming the tensor and batch when a value is NaN
// or infinite.
absl::StatusOr<CalibrationStatistics> CalibrateRanges(const Graph& graph,
                                                      const std::vector<std::string>& tensors,
                                                      const SampleSet& data,
                                                      const CalibrationRun& run,
                                                      const BatchProgress& progress);

// `graph` with `values` added as outputs (float32, shape unknown) when they are not already.
Graph WithExtraOutputs(const Graph& graph, const std::vector<std::string>& values);

// The part of `graph` that computes `values`: they are its outputs (float32, shape unknown, where
// not graph outputs already), and the nodes none of them depends on are left out, with the
// constants only those read. The inputs stay. REQUIRES: graph.nodes in topological order.
Graph WithOutputsOnly(const Graph& graph, const std::vector<std::string>& values);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_CALIBRATOR_H_
