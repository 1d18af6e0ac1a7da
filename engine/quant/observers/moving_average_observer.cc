#include "engine/quant/observers/moving_average_observer.h"

#include <algorithm>

#include "engine/base/status_macros.h"

namespace octet {

absl::Status MovingAverageObserver::Observe(absl::Span<const float> values) {
  OCTET_RETURN_IF_ERROR(CheckFinite(values));
  if (values.empty()) return absl::OkStatus();
  const auto [min, max] = std::minmax_element(values.begin(), values.end());
  if (!seen_) {
    min_ = *min;
    max_ = *max;
    seen_ = true;
    return absl::OkStatus();
  }
  min_ += constant_ * (*min - min_);
  max_ += constant_ * (*max - max_);
  return absl::OkStatus();
}

absl::StatusOr<RealRange> MovingAverageObserver::Range(const RangeTarget&) const {
  if (!seen_) return absl::FailedPreconditionError("no values were observed");
  return RealRange{static_cast<float>(min_), static_cast<float>(max_)};
}

}  // namespace octet
