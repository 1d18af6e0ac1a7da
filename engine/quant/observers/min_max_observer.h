#ifndef OCTET_ENGINE_QUANT_OBSERVERS_MIN_MAX_OBSERVER_H_
#define OCTET_ENGINE_QUANT_OBSERVERS_MIN_MAX_OBSERVER_H_

#include "engine/quant/observers/range_observer.h"

namespace octet {

// The smallest and largest value ever seen: no value clips, outliers widen the step.
class MinMaxObserver final : public RangeObserver {
 public:
  absl::Status Observe(absl::Span<const float> values) override;
  absl::StatusOr<RealRange> Range(const RangeTarget& target) const override;

 private:
  bool seen_ = false;
  RealRange range_;
};

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_OBSERVERS_MIN_MAX_OBSERVER_H_
