// How far a quantized model's answers drift from its float original's, and where values fall
// against the ranges a calibration fixed: the arithmetic shared by the quantization job (the
// reference figures it stores in report.json) and the server's live drift monitor.
#ifndef OCTET_ENGINE_QUANT_DRIFT_STATISTICS_H_
#define OCTET_ENGINE_QUANT_DRIFT_STATISTICS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/tensor/tensor.h"

namespace octet {

// One output compared row by row (a row is one index of the first, batch, axis).
struct RowDrift {
  // 10 log10(sum x^2 / sum (x - y)^2) over the row; +inf when identical, -inf when the reference
  // row is all zeros and the candidate's is not.
  double sqnr_db = 0.0;
  // x.y / (|x| |y|); 1 when both rows are all zeros, 0 when only one is.
  double cosine = 0.0;
  double max_abs_error = 0.0;
  // Whether the argmax over the class axis agrees; nullopt when the output has no class axis.
  std::optional<bool> top1_agrees;
};

// `candidate` against `reference`: float32 tensors of one shape, of rank 1 or more. A row has a
// class axis when every axis between the first and the last has size 1 ([N, C], [N, 1, 1, C]):
// one class per row, the argmax over the last axis (the first maximum on ties, as the job's
// evaluation). INVALID_ARGUMENT for other types or different shapes.
absl::StatusOr<std::vector<RowDrift>> CompareRows(const Tensor& reference, const Tensor& candidate);

// x.y / (|x| |y|) over `n` values, with the conventions of RowDrift::cosine.
double CosineSimilarity(const float* x, const float* y, int64_t n);

// The real values QuantizeLinear maps into its integer type without saturating:
// [(qmin - zero_point) * scale, (qmax - zero_point) * scale] for uint8 [0, 255] or int8
// [-128, 127]. INVALID_ARGUMENT for another type or a scale that is not positive and finite.
struct ValueRange {
  float min = 0.0f;
  float max = 0.0f;
};
absl::StatusOr<ValueRange> QuantizedRange(float scale, int32_t zero_point, DataType type);

// Counts of values against a closed range; NaN counts as outside.
struct RangeCoverage {
  int64_t values = 0;
  int64_t out_of_range = 0;

  void Add(absl::Span<const float> data, const ValueRange& range);
  void Add(const RangeCoverage& other);
  // out_of_range / values; 0 when no value was seen.
  double share() const;
};

// `data` against `range`, and its own smallest and largest values (NaN skipped; +inf and -inf
// when there is no other value), in one vectorized pass.
struct ValueSummary {
  RangeCoverage coverage;
  ValueRange seen;
};
ValueSummary SummarizeValues(absl::Span<const float> data, const ValueRange& range);

// Counts of values in `bins` equal bins over a closed range, plus one bin below it and one above
// (where NaN goes too): the fixed-edge histogram the population stability index compares. A range
// of zero width has one bin that holds the value itself.
class BinnedHistogram {
 public:
  static constexpr int kDefaultBins = 10;

  // REQUIRES: range.min <= range.max, bins >= 1.
  explicit BinnedHistogram(ValueRange range, int bins = kDefaultBins);
  // A histogram with these counts (below, the bins, above), as stored in a report.
  // INVALID_ARGUMENT unless there are at least 3 counts, none negative.
  static absl::StatusOr<BinnedHistogram> FromCounts(ValueRange range, std::vector<int64_t> counts);

  void Add(absl::Span<const float> data);
  // REQUIRES: same range and bins.
  void Add(const BinnedHistogram& other);

  const ValueRange& range() const { return range_; }
  int bins() const { return static_cast<int>(counts_.size()) - 2; }
  // Below the range, each bin in order, above the range.
  const std::vector<int64_t>& counts() const { return counts_; }
  int64_t total() const { return total_; }

 private:
  ValueRange range_;
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
};

// The population stability index of `actual` against `expected` (same bins):
// sum over bins of (a - e) ln(a / e), with a and e each bin's share of its histogram, floored at
// kPsiShareFloor so that an empty bin adds a finite term. nullopt when either is empty.
// Conventional reading: below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one.
inline constexpr double kPsiShareFloor = 1e-4;
std::optional<double> PopulationStabilityIndex(const BinnedHistogram& expected,
                                               const BinnedHistogram& actual);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_DRIFT_STATISTICS_H_
