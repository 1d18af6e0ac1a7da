#include "engine/quant/observers/range_observer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/quant/observers/auto_observer.h"
#include "engine/quant/observers/entropy_observer.h"
#include "engine/quant/observers/min_max_observer.h"
#include "engine/quant/observers/moving_average_observer.h"
#include "engine/quant/observers/mse_observer.h"
#include "engine/quant/observers/percentile_observer.h"

namespace octet {

const char* CalibrationMethodName(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kMinMax:
      return "min_max";
    case CalibrationMethod::kMovingAverageMinMax:
      return "moving_average_min_max";
    case CalibrationMethod::kPercentile:
      return "percentile";
    case CalibrationMethod::kEntropy:
      return "entropy";
    case CalibrationMethod::kMse:
      return "mse";
    case CalibrationMethod::kAuto:
      return "auto";
  }
  return "unknown";
}

const char* ErrorSpaceName(ErrorSpace space) {
  switch (space) {
    case ErrorSpace::kValue:
      return "value";
    case ErrorSpace::kSigmoid:
      return "sigmoid";
    case ErrorSpace::kTanh:
      return "tanh";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<RangeObserver>> MakeRangeObserver(
    const CalibrationOptions& options) {
  switch (options.method) {
    case CalibrationMethod::kMinMax:
      return std::make_unique<MinMaxObserver>();
    case CalibrationMethod::kMovingAverageMinMax:
      if (!(options.averaging_constant > 0.0 && options.averaging_constant <= 1.0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("averaging constant ", options.averaging_constant, " is not in (0, 1]"));
      }
      return std::make_unique<MovingAverageObserver>(options.averaging_constant);
    case CalibrationMethod::kPercentile:
      if (!(options.percentile > 0.0 && options.percentile <= 100.0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("percentile ", options.percentile, " is not in (0, 100]"));
      }
      return std::make_unique<PercentileObserver>(options.percentile);
    case CalibrationMethod::kEntropy:
      return std::make_unique<EntropyObserver>();
    case CalibrationMethod::kMse:
      return std::make_unique<MseObserver>();
    case CalibrationMethod::kAuto: {
      CalibrationOptions candidate = options;
      candidate.method = CalibrationMethod::kPercentile;
      OCTET_RETURN_IF_ERROR(MakeRangeObserver(candidate).status());
      return std::make_unique<AutoObserver>(options);
    }
  }
  return absl::InvalidArgumentError("unknown calibration method");
}

absl::Status CheckFinite(absl::Span<const float> values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(absl::StrCat("value ", i, " of the batch is ", values[i],
                                                     "; calibration data must give finite values"));
    }
  }
  return absl::OkStatus();
}

}  // namespace octet
