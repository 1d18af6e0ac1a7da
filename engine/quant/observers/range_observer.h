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

// What the range is for, so that methods that search (entropy, MSE) search for this format.
struct RangeTarget {
  QuantizationScheme scheme = QuantizationScheme::kAsymmetric;
  IntegerFormat format;
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

enum class CalibrationMethod { kMinMax, kMovingAverageMinMax, kPercentile, kEntropy, kMse };

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::kMinMax;
  // kPercentile: the share of values kept inside the range, in percent.
  double percentile = 99.99;
  // kMovingAverageMinMax: weight of each new batch's min and max.
  double averaging_constant = 0.01;
};

// "min_max", "moving_average_min_max", "percentile", "entropy", "mse".
const char* CalibrationMethodName(CalibrationMethod method);

// INVALID_ARGUMENT for a percentile outside (0, 100] or an averaging constant outside (0, 1].
absl::StatusOr<std::unique_ptr<RangeObserver>> MakeRangeObserver(const CalibrationOptions& options);

// INVALID_ARGUMENT naming the first value that is NaN or infinite.
absl::Status CheckFinite(absl::Span<const float> values);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_OBSERVERS_RANGE_OBSERVER_H_
