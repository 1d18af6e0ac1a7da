#ifndef OCTET_ENGINE_QUANT_OBSERVERS_ENTROPY_OBSERVER_H_
#define OCTET_ENGINE_QUANT_OBSERVERS_ENTROPY_OBSERVER_H_

#include "engine/quant/observers/histogram.h"

namespace octet {

// The clipping thresholds that minimise the KL divergence between the distribution of values and
// its quantized version, as TensorRT's and ONNX Runtime's entropy calibration do, searched for
// each sign on its own: for each candidate threshold, the clipped tail is folded into the last
// bin, the bins are merged into the target's number of levels and expanded back over the
// non-empty bins, and the divergence of the two is measured. The bin at zero is a level of its
// own (zero is exact on the grid): merging ReLU's spike of zeros with its neighbours would make
// every wide range look costly and drive the search to clip hard.
class EntropyObserver final : public HistogramObserver {
 protected:
  RealRange RangeFromHistogram(const Histogram& histogram,
                               const RangeTarget& target) const override;
};

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_OBSERVERS_ENTROPY_OBSERVER_H_
