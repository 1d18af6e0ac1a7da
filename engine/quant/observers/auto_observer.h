#ifndef OCTET_ENGINE_QUANT_OBSERVERS_AUTO_OBSERVER_H_
#define OCTET_ENGINE_QUANT_OBSERVERS_AUTO_OBSERVER_H_

#include <memory>
#include <utility>
#include <vector>

#include "engine/quant/observers/histogram.h"

namespace octet {

// Calibration method "auto": one histogram of the tensor, and the range each method of
// kAutoCandidates chooses from it. Range() gives the first candidate's; the quantization
// pipeline compares whole models built from each candidate's ranges.
class AutoObserver final : public RangeObserver {
 public:
  // `options` holds the candidates' parameters (the percentile). REQUIRES: they are valid.
  explicit AutoObserver(const CalibrationOptions& options);

  absl::Status Observe(absl::Span<const float> values) override;
  absl::StatusOr<RealRange> Range(const RangeTarget& target) const override;

  // Per candidate of kAutoCandidates, in order, its range. FAILED_PRECONDITION before any value.
  absl::StatusOr<std::vector<std::pair<CalibrationMethod, RealRange>>> CandidateRanges(
      const RangeTarget& target) const;

 private:
  // The first observes; the others only read its histogram.
  std::vector<std::unique_ptr<HistogramObserver>> candidates_;
};

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_OBSERVERS_AUTO_OBSERVER_H_
