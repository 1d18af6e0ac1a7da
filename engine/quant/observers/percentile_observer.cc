#include "engine/quant/observers/percentile_observer.h"

namespace octet {

RealRange PercentileObserver::RangeFromHistogram(const Histogram& histogram,
                                                 const RangeTarget&) const {
  const double outside = histogram.total() * (100.0 - percentile_) / 100.0;
  const bool two_sided = histogram.min() < 0.0f;
  const double cut = two_sided ? outside / 2.0 : outside;
  const float width = histogram.bin_width();
  RealRange range{histogram.min(), histogram.max()};
  // From the top: drop whole bins while what they hold fits in the cut.
  double dropped = 0.0;
  for (int i = Histogram::kBinsPerSide - 1; i >= 0; --i) {
    dropped += histogram.positive()[i];
    if (dropped > cut) {
      range.max = (i + 1) * width;
      break;
    }
    range.max = i * width;
  }
  if (two_sided) {
    dropped = 0.0;
    for (int i = Histogram::kBinsPerSide - 1; i >= 0; --i) {
      dropped += histogram.negative()[i];
      if (dropped > cut) {
        range.min = -(i + 1) * width;
        break;
      }
      range.min = -i * width;
    }
  }
  return range;
}

}  // namespace octet
