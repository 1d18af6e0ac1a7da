#include "engine/quant/observers/histogram.h"

#include <algorithm>
#include <cmath>

#include "engine/base/status_macros.h"

namespace octet {

void Histogram::GrowTo(float magnitude) {
  if (limit_ == 0.0f) {
    // Everything so far is 0, which lies in bin 0 at any width.
    limit_ = magnitude;
    return;
  }
  while (limit_ < magnitude) {
    for (std::vector<double>* side : {&positive_, &negative_}) {
      for (int i = 0; i < kBinsPerSide / 2; ++i) (*side)[i] = (*side)[2 * i] + (*side)[2 * i + 1];
      std::fill(side->begin() + kBinsPerSide / 2, side->end(), 0.0);
    }
    limit_ *= 2.0f;
  }
}

void Histogram::Add(absl::Span<const float> values) {
  if (values.empty()) return;
  const auto [min, max] = std::minmax_element(values.begin(), values.end());
  if (total_ == 0) {
    min_ = *min;
    max_ = *max;
  }
  min_ = std::min(min_, *min);
  max_ = std::max(max_, *max);
  const float magnitude = std::max(std::fabs(*min), std::fabs(*max));
  if (magnitude > limit_) GrowTo(magnitude);
  const float bins_per_unit = limit_ > 0.0f ? kBinsPerSide / limit_ : 0.0f;
  for (float v : values) {
    const int bin = std::min(static_cast<int>(std::fabs(v) * bins_per_unit), kBinsPerSide - 1);
    (v < 0.0f ? negative_ : positive_)[bin] += 1.0;
  }
  total_ += static_cast<double>(values.size());
}

absl::Status HistogramObserver::Observe(absl::Span<const float> values) {
  OCTET_RETURN_IF_ERROR(CheckFinite(values));
  histogram_.Add(values);
  return absl::OkStatus();
}

absl::StatusOr<RealRange> HistogramObserver::Range(const RangeTarget& target) const {
  return RangeOf(histogram_, target);
}

absl::StatusOr<RealRange> HistogramObserver::RangeOf(const Histogram& histogram,
                                                     const RangeTarget& target) const {
  if (histogram.empty()) return absl::FailedPreconditionError("no values were observed");
  if (histogram.limit() == 0.0f) return RealRange{0.0f, 0.0f};
  RealRange range = RangeFromHistogram(histogram, target);
  range.min = std::max(range.min, histogram.min());
  range.max = std::min(range.max, histogram.max());
  return range;
}

}  // namespace octet
