#include "engine/quant/observers/entropy_observer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace octet {
namespace {

// KL(p || q) over bins where p > 0; p and q unnormalised (each is normalised here). Infinite
// when q is 0 where p is not.
double KlDivergence(const std::vector<double>& p, const std::vector<double>& q) {
  double p_sum = 0.0, q_sum = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    p_sum += p[i];
    q_sum += q[i];
  }
  if (p_sum == 0.0 || q_sum == 0.0) return std::numeric_limits<double>::infinity();
  double divergence = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0.0) continue;
    if (q[i] == 0.0) return std::numeric_limits<double>::infinity();
    const double pi = p[i] / p_sum, qi = q[i] / q_sum;
    divergence += pi * std::log(pi / qi);
  }
  return divergence;
}

// The bin count (threshold) whose clipping of `bins` into `levels` levels diverges least.
int BestThreshold(const std::vector<double>& bins, int levels) {
  const int size = static_cast<int>(bins.size());
  int last_used = size;
  while (last_used > 1 && bins[last_used - 1] == 0.0) --last_used;
  int best = last_used;
  double best_divergence = std::numeric_limits<double>::infinity();
  std::vector<double> p, q;
  for (int threshold = std::min(levels, last_used); threshold <= last_used; ++threshold) {
    p.assign(bins.begin(), bins.begin() + threshold);
    double outliers = 0.0;
    for (int i = threshold; i < size; ++i) outliers += bins[i];
    p[threshold - 1] += outliers;
    // Zero is exact on the quantized grid, so the first bin (which holds ReLU's zeros, often half
    // of all values) is its own level; the other unclipped bins merge into `levels - 1` groups,
    // each group's count then spread evenly over its non-empty bins.
    q.assign(threshold, 0.0);
    q[0] = bins[0];
    const int merged_levels = levels - 1;
    const double per_level = static_cast<double>(threshold - 1) / merged_levels;
    for (int level = 0; level < merged_levels; ++level) {
      const int begin = 1 + static_cast<int>(std::floor(level * per_level));
      const int end = level == merged_levels - 1
                          ? threshold
                          : 1 + static_cast<int>(std::floor((level + 1) * per_level));
      double count = 0.0;
      int non_empty = 0;
      for (int i = begin; i < end; ++i) {
        count += bins[i];
        non_empty += bins[i] > 0.0;
      }
      if (non_empty == 0) continue;
      for (int i = begin; i < end; ++i) {
        if (bins[i] > 0.0) q[i] = count / non_empty;
      }
    }
    const double divergence = KlDivergence(p, q);
    if (divergence < best_divergence) {
      best_divergence = divergence;
      best = threshold;
    }
  }
  return best;
}

}  // namespace

RealRange EntropyObserver::RangeFromHistogram(const Histogram& histogram,
                                              const RangeTarget& target) const {
  // Each sign is searched on its own (folding magnitudes together would let a spike on one side
  // hide the clipping of a spike on the other, as in a normalised image's black and white
  // pixels), with the levels that sign gets: all of them for a one-signed tensor.
  const IntegerRange range = target.format.range();
  const int span = range.max - range.min + 1;
  const bool two_sided = histogram.min() < 0.0f && histogram.max() > 0.0f;
  const int levels = std::max(2, two_sided ? span / 2 : span);
  const float width = histogram.bin_width();
  RealRange result{0.0f, 0.0f};
  if (histogram.max() > 0.0f) result.max = BestThreshold(histogram.positive(), levels) * width;
  if (histogram.min() < 0.0f) result.min = -BestThreshold(histogram.negative(), levels) * width;
  if (target.scheme == QuantizationScheme::kSymmetric) {
    const float limit = std::max(result.max, -result.min);
    result = {-limit, limit};
  }
  return result;
}

}  // namespace octet
