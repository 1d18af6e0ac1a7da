#ifndef OCTET_ENGINE_QUANT_OBSERVERS_PERCENTILE_OBSERVER_H_
#define OCTET_ENGINE_QUANT_OBSERVERS_PERCENTILE_OBSERVER_H_

#include "engine/quant/observers/histogram.h"

namespace octet {

// Clips the tails: the range holds `percentile` percent of the observed values, the rest split
// evenly between the two ends (for non-negative tensors all of it is cut from the top).
class PercentileObserver final : public HistogramObserver {
 public:
  // REQUIRES: 0 < percentile <= 100.
  explicit PercentileObserver(double percentile) : percentile_(percentile) {}

 protected:
  RealRange RangeFromHistogram(const Histogram& histogram,
                               const RangeTarget& target) const override;

 private:
  const double percentile_;
};

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_OBSERVERS_PERCENTILE_OBSERVER_H_
