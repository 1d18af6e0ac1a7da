#ifndef OCTET_ENGINE_QUANT_OBSERVERS_MOVING_AVERAGE_OBSERVER_H_
#define OCTET_ENGINE_QUANT_OBSERVERS_MOVING_AVERAGE_OBSERVER_H_

#include "engine/quant/observers/range_observer.h"

namespace octet {

// An exponential moving average of each batch's min and max (the whitepaper's EMA, as
// quantization-aware training uses it): one batch's outliers move the range by only
// `averaging_constant` of their distance.
class MovingAverageObserver final : public RangeObserver {
 public:
  // REQUIRES: 0 < averaging_constant <= 1.
  explicit MovingAverageObserver(double averaging_constant) : constant_(averaging_constant) {}

  absl::Status Observe(absl::Span<const float> values) override;
  absl::StatusOr<RealRange> Range(const RangeTarget& target) const override;

 private:
  const double constant_;
  bool seen_ = false;
  double min_ = 0.0, max_ = 0.0;
};

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_OBSERVERS_MOVING_AVERAGE_OBSERVER_H_
