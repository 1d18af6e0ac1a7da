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

}  // namespace

RealRange EntropyObserver::RangeFromHistogram(const Histogram& histogram,
                                              const RangeTarget& target) const {
  const int bins = Histogram::kBinsPerSide;
  std::vector<double> magnitude(bins);
  for (int i = 0; i < bins; ++i) magnitude[i] = histogram.positive()[i] + histogram.negative()[i];
  // Levels available to one sign: all of them for a non-negative tensor.
  const IntegerRange range = target.format.range();
  const int span = range.max - range.min + 1;
  const int levels = std::max(2, histogram.min() < 0.0f ? span / 2 : span);
  int last_used = bins;
  while (last_used > 1 && magnitude[last_used - 1] == 0.0) --last_used;
  int best = last_used;
  double best_divergence = std::numeric_limits<double>::infinity();
  std::vector<double> p, q;
  for (int threshold = std::min(levels, last_used); threshold <= last_used; ++threshold) {
    p.assign(magnitude.begin(), magnitude.begin() + threshold);
    double outliers = 0.0;
    for (int i = threshold; i < bins; ++i) outliers += magnitude[i];
    p[threshold - 1] += outliers;
    // Merge the unclipped bins into `levels` groups, then spread each group's count evenly over
    // its non-empty bins.
    q.assign(threshold, 0.0);
    const double per_level = static_cast<double>(threshold) / levels;
    for (int level = 0; level < levels; ++level) {
      const int begin = static_cast<int>(std::floor(level * per_level));
      const int end = level == levels - 1 ? threshold
                                          : static_cast<int>(std::floor((level + 1) * per_level));
      double count = 0.0;
      int non_empty = 0;
      for (int i = begin; i < end; ++i) {
        count += magnitude[i];
        non_empty += magnitude[i] > 0.0;
      }
      if (non_empty == 0) continue;
      for (int i = begin; i < end; ++i) {
        if (magnitude[i] > 0.0) q[i] = count / non_empty;
      }
    }
    const double divergence = KlDivergence(p, q);
    if (divergence < best_divergence) {
      best_divergence = divergence;
      best = threshold;
    }
  }
  const float limit = best * histogram.bin_width();
  return RealRange{-limit, limit};
}

}  // namespace octet
