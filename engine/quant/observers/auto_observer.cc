#include "engine/quant/observers/auto_observer.h"

#include "engine/base/status_macros.h"
#include "engine/quant/observers/entropy_observer.h"
#include "engine/quant/observers/mse_observer.h"
#include "engine/quant/observers/percentile_observer.h"

namespace octet {

AutoObserver::AutoObserver(const CalibrationOptions& options) {
  for (CalibrationMethod method : kAutoCandidates) {
    switch (method) {
      case CalibrationMethod::kPercentile:
        candidates_.push_back(std::make_unique<PercentileObserver>(options.percentile));
        break;
      case CalibrationMethod::kEntropy:
        candidates_.push_back(std::make_unique<EntropyObserver>());
        break;
      default:  // kMse; the other methods keep no histogram and are not candidates
        candidates_.push_back(std::make_unique<MseObserver>());
        break;
    }
  }
}

absl::Status AutoObserver::Observe(absl::Span<const float> values) {
  return candidates_.front()->Observe(values);
}

absl::StatusOr<RealRange> AutoObserver::Range(const RangeTarget& target) const {
  return candidates_.front()->Range(target);
}

absl::StatusOr<std::vector<std::pair<CalibrationMethod, RealRange>>> AutoObserver::CandidateRanges(
    const RangeTarget& target) const {
  const Histogram& histogram = candidates_.front()->histogram();
  std::vector<std::pair<CalibrationMethod, RealRange>> ranges;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    OCTET_ASSIGN_OR_RETURN(RealRange range, candidates_[i]->RangeOf(histogram, target));
    ranges.emplace_back(kAutoCandidates[i], range);
  }
  return ranges;
}

}  // namespace octet
