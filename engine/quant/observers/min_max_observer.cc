#include "engine/quant/observers/min_max_observer.h"

#include <algorithm>

#include "engine/base/status_macros.h"

namespace octet {

absl::Status MinMaxObserver::Observe(absl::Span<const float> values) {
  OCTET_RETURN_IF_ERROR(CheckFinite(values));
  if (values.empty()) return absl::OkStatus();
  const auto [min, max] = std::minmax_element(values.begin(), values.end());
  if (!seen_) range_ = {*min, *max};
  range_.min = std::min(range_.min, *min);
  range_.max = std::max(range_.max, *max);
  seen_ = true;
  return absl::OkStatus();
}

absl::StatusOr<RealRange> MinMaxObserver::Range(const RangeTarget&) const {
  if (!seen_) return absl::FailedPreconditionError("no values were observed");
  return range_;
}

}  // namespace octet
