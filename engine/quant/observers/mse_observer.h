#ifndef OCTET_ENGINE_QUANT_OBSERVERS_MSE_OBSERVER_H_
#define OCTET_ENGINE_QUANT_OBSERVERS_MSE_OBSERVER_H_

#include "engine/quant/observers/histogram.h"

namespace octet {

// The range, among the observed [min, max] shrunk by factors 1, 0.995, ... 0.005, whose
// quantization in the target format has the least expected squared error over the histogram
// (clipping error and rounding error together), measured in the target's error space. An
// asymmetric range over both signs is then refined one end at a time (each end over the same
// factors of its own extreme, two rounds), so that a long tail on one side is clipped without
// clipping the other.
class MseObserver final : public HistogramObserver {
 protected:
  RealRange RangeFromHistogram(const Histogram& histogram,
                               const RangeTarget& target) const override;
};

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_OBSERVERS_MSE_OBSERVER_H_
