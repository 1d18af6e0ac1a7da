#ifndef OCTET_ENGINE_QUANT_OBSERVERS_HISTOGRAM_H_
#define OCTET_ENGINE_QUANT_OBSERVERS_HISTOGRAM_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "engine/quant/observers/range_observer.h"

namespace octet {

// A histogram of values over [-limit, limit], anchored at 0 with kBinsPerSide bins on each side.
// The limit grows by doubling when a larger magnitude arrives, merging bin pairs, so that earlier
// batches keep exact counts at the coarser width (no re-binning error, unlike moving the edges).
class Histogram {
 public:
  static constexpr int kBinsPerSide = 2048;

  // REQUIRES: every value is finite.
  void Add(absl::Span<const float> values);

  bool empty() const { return total_ == 0; }
  double total() const { return total_; }
  float limit() const { return limit_; }
  float bin_width() const { return limit_ / kBinsPerSide; }
  float min() const { return min_; }
  float max() const { return max_; }
  // Counts by magnitude bin: bin i holds values with |x| in [i, i + 1) * bin_width().
  const std::vector<double>& positive() const { return positive_; }
  const std::vector<double>& negative() const { return negative_; }

 private:
  void GrowTo(float magnitude);

  std::vector<double> positive_ = std::vector<double>(kBinsPerSide, 0.0);
  std::vector<double> negative_ = std::vector<double>(kBinsPerSide, 0.0);
  float limit_ = 0.0f;
  double total_ = 0.0;
  float min_ = 0.0f, max_ = 0.0f;
};

// Observers that choose the range from the histogram of everything observed.
class HistogramObserver : public RangeObserver {
 public:
  absl::Status Observe(absl::Span<const float> values) override;
  absl::StatusOr<RealRange> Range(const RangeTarget& target) const override;

  // The range this method chooses for the values `histogram` holds (what Range() gives after
  // observing them): how the "auto" method asks several methods about one histogram.
  absl::StatusOr<RealRange> RangeOf(const Histogram& histogram, const RangeTarget& target) const;
  const Histogram& histogram() const { return histogram_; }

 protected:
  // REQUIRES: !histogram.empty().
  virtual RealRange RangeFromHistogram(const Histogram& histogram,
                                       const RangeTarget& target) const = 0;

 private:
  Histogram histogram_;
};

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_OBSERVERS_HISTOGRAM_H_
