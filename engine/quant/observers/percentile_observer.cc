#include "engine/quant/observers/percentile_observer.h"

namespace octet {

RealRange PercentileObserver::RangeFromHistogram(const Histogram& histogram,
                                                 const RangeTarget&) const {
  const double outside = histogram.total() * (100.0 - percentile_) / 100.0;
  const bool two_sided = histogram.min() < 0.0f;
  const double cut = two_sided ? outside / 2.0 : outside;
  const float width = histogram.bin_width();
  // Drops whole bins from a side's far end while what they hold fits in the cut; returns the
  // magnitude the side keeps.
  auto kept_magnitude = [&](const std::vector<double>& side) {
    double dropped = 0.0;
    for (int i = Histogram::kBinsPerSide - 1; i >= 0; --i) {
      dropped += side[i];
      if (dropped > cut) return (i + 1) * width;
    }
    return 0.0f;
  };
  RealRange range{histogram.min(), kept_magnitude(histogram.positive())};
  if (two_sided) range.min = -kept_magnitude(histogram.negative());
  return range;
}

}  // namespace octet
