// Calibration observers (whitepaper 2.1.2): each watches the values one tensor takes over the
// calibration batches and then proposes the real range to quantize it with. One strategy per
// file under observers/; MakeRangeObserver() picks one by method.
#ifndef OCTET_ENGINE_QUANT_OBSERVERS_RANGE_OBSERVER_H_
#define OCTET_ENGINE_QUANT_OBSERVERS_RANGE_OBSERVER_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/quant/quantization_params.h"

namespace octet {

struct RealRange {
  float min = 0.0f;
  float max = 0.0f;
};

// Where a tensor's quantization error counts: in its own values, or after the saturating function
// every reader applies to it (a segmentation network's logits read only by a Sigmoid, through a
// Resize: errors deep in the saturated tails do not change the result, errors near 0 do).
enum class ErrorSpace { kValue, kSigmoid, kTanh };

// "value", "sigmoid", "tanh".
const char* ErrorSpaceName(ErrorSpace space);

// What the range is for, so that methods that search (entropy, MSE) search for this format.
struct RangeTarget {
  QuantizationScheme scheme = QuantizationScheme::kAsymmetric;
  IntegerFormat format;
  // Where the MSE method measures the error (the other methods ignore it).
  ErrorSpace error_space = ErrorSpace::kValue;
};

// Not thread-safe: one observer per tensor, fed from one thread.
class RangeObserver {
 public:
  virtual ~RangeObserver() = default;

  // Records one batch of the tensor's values. INVALID_ARGUMENT when a value is NaN or infinite
  // (calibration data that produces them cannot be quantized meaningfully).
  virtual absl::Status Observe(absl::Span<const float> values) = 0;

  // The range to quantize with. FAILED_PRECONDITION before any value was observed.
  virtual absl::StatusOr<RealRange> Range(const RangeTarget& target) const = 0;
};

// kAuto: the ranges of each of kAutoCandidates from one histogram per tensor (AutoObserver); the
// quantization pipeline keeps the set whose quantized model is closest to float on calibration
// samples.
enum class CalibrationMethod { kMinMax, kMovingAverageMinMax, kPercentile, kEntropy, kMse, kAuto };

// What kAuto chooses between, in order of preference on ties.
inline constexpr CalibrationMethod kAutoCandidates[] = {
    CalibrationMethod::kMse, CalibrationMethod::kPercentile, CalibrationMethod::kEntropy};

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::kMinMax;
  // kPercentile: the share of values kept inside the range, in percent.
  double percentile = 99.99;
  // kMovingAverageMinMax: weight of each new batch's min and max.
  double averaging_constant = 0.01;
};

// "min_max", "moving_average_min_max", "percentile", "entropy", "mse", "auto".
const char* CalibrationMethodName(CalibrationMethod method);

// INVALID_ARGUMENT for a percentile outside (0, 100] or an averaging constant outside (0, 1].
absl::StatusOr<std::unique_ptr<RangeObserver>> MakeRangeObserver(const CalibrationOptions& options);

// INVALID_ARGUMENT naming the first value that is NaN or infinite.
absl::Status CheckFinite(absl::Span<const float> values);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_OBSERVERS_RANGE_OBSERVER_H_
