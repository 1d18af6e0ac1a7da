#include "engine/quant/observers/mse_observer.h"

#include <limits>

namespace octet {
namespace {

constexpr int kCandidates = 200;

double ExpectedSquaredError(const Histogram& histogram, RealRange range,
                            const RangeTarget& target) {
  absl::StatusOr<ScaleAndZeroPoint> sz =
      ChooseScaleAndZeroPoint(range.min, range.max, target.scheme, target.format);
  if (!sz.ok()) return std::numeric_limits<double>::infinity();
  const IntegerRange integers = target.format.range();
  const float width = histogram.bin_width();
  double error = 0.0;
  for (int sign : {1, -1}) {
    const std::vector<double>& side = sign > 0 ? histogram.positive() : histogram.negative();
    for (int i = 0; i < Histogram::kBinsPerSide; ++i) {
      if (side[i] == 0.0) continue;
      const float center = sign * (i + 0.5f) * width;
      const int32_t q = QuantizeValue(center, sz->scale, sz->zero_point, integers);
      const double difference = center - DequantizeValue(q, sz->scale, sz->zero_point);
      error += side[i] * difference * difference;
    }
  }
  return error;
}

}  // namespace

RealRange MseObserver::RangeFromHistogram(const Histogram& histogram,
                                          const RangeTarget& target) const {
  RealRange best{histogram.min(), histogram.max()};
  double best_error = std::numeric_limits<double>::infinity();
  for (int k = kCandidates; k >= 1; --k) {
    const float factor = static_cast<float>(k) / kCandidates;
    const RealRange candidate{histogram.min() * factor, histogram.max() * factor};
    const double error = ExpectedSquaredError(histogram, candidate, target);
    if (error < best_error) {
      best_error = error;
      best = candidate;
    }
  }
  return best;
}

}  // namespace octet
