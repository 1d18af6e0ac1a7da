#include "engine/quant/drift_statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/quant/evaluator.h"

namespace octet {

absl::StatusOr<std::vector<RowDrift>> CompareRows(const Tensor& reference,
                                                  const Tensor& candidate) {
  if (reference.type() != DataType::kFloat32 || candidate.type() != DataType::kFloat32) {
    return absl::InvalidArgumentError("drift is measured on float32 outputs");
  }
  if (reference.shape() != candidate.shape() || reference.rank() == 0) {
    return absl::InvalidArgumentError(
        "the compared outputs must have one shape with a first (batch) axis");
  }
  const int64_t rows = reference.dim(0);
  const int64_t width = rows == 0 ? 0 : reference.element_count() / rows;
  bool class_axis = reference.rank() >= 2;
  for (int64_t axis = 1; axis + 1 < reference.rank(); ++axis) {
    class_axis &= reference.dim(axis) == 1;
  }
  std::vector<RowDrift> result(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = reference.data<float>() + r * width;
    const float* y = candidate.data<float>() + r * width;
    double signal = 0.0, noise = 0.0, max_abs = 0.0;
    for (int64_t i = 0; i < width; ++i) {
      const double d = static_cast<double>(x[i]) - y[i];
      signal += static_cast<double>(x[i]) * x[i];
      noise += d * d;
      max_abs = std::max(max_abs, std::abs(d));
    }
    RowDrift& row = result[r];
    row.sqnr_db = SqnrDb(signal, noise);
    row.cosine = CosineSimilarity(x, y, width);
    row.max_abs_error = max_abs;
    if (class_axis && width > 0) {
      row.top1_agrees = std::max_element(x, x + width) - x == std::max_element(y, y + width) - y;
    }
  }
  return result;
}

double CosineSimilarity(const float* x, const float* y, int64_t n) {
  double dot = 0.0, xx = 0.0, yy = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    dot += static_cast<double>(x[i]) * y[i];
    xx += static_cast<double>(x[i]) * x[i];
    yy += static_cast<double>(y[i]) * y[i];
  }
  if (xx == 0.0 && yy == 0.0) return 1.0;
  if (xx == 0.0 || yy == 0.0) return 0.0;
  return std::clamp(dot / std::sqrt(xx * yy), -1.0, 1.0);
}

absl::StatusOr<ValueRange> QuantizedRange(float scale, int32_t zero_point, DataType type) {
  if (!(scale > 0.0f) || !std::isfinite(scale)) {
    return absl::InvalidArgumentError(absl::StrCat("scale ", scale, " is not positive and finite"));
  }
  int32_t qmin, qmax;
  switch (type) {
    case DataType::kUint8:
      qmin = 0;
      qmax = 255;
      break;
    case DataType::kInt8:
      qmin = -128;
      qmax = 127;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("QuantizeLinear to ", DataTypeName(type), " has no 8-bit range"));
  }
  return ValueRange{static_cast<float>(qmin - zero_point) * scale,
                    static_cast<float>(qmax - zero_point) * scale};
}

void RangeCoverage::Add(absl::Span<const float> data, const ValueRange& range) {
  Add(SummarizeValues(data, range).coverage);
}

ValueSummary SummarizeValues(absl::Span<const float> data, const ValueRange& range) {
  const float* values = data.data();
  const int64_t n = static_cast<int64_t>(data.size());
  const float lo = range.min, hi = range.max;
  int64_t outside = 0;
  float seen_min = std::numeric_limits<float>::infinity();
  float seen_max = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(+ : outside) reduction(min : seen_min) reduction(max : seen_max)
  for (int64_t i = 0; i < n; ++i) {
    const float v = values[i];
    outside += !(v >= lo && v <= hi);
    seen_min = v < seen_min ? v : seen_min;  // false for NaN: skipped
    seen_max = v > seen_max ? v : seen_max;
  }
  ValueSummary summary;
  summary.coverage.values = n;
  summary.coverage.out_of_range = outside;
  summary.seen = ValueRange{seen_min, seen_max};
  return summary;
}

void RangeCoverage::Add(const RangeCoverage& other) {
  values += other.values;
  out_of_range += other.out_of_range;
}

double RangeCoverage::share() const {
  return values == 0 ? 0.0 : static_cast<double>(out_of_range) / values;
}

BinnedHistogram::BinnedHistogram(ValueRange range, int bins)
    : range_(range), counts_(std::max(bins, 1) + 2, 0) {}

absl::StatusOr<BinnedHistogram> BinnedHistogram::FromCounts(ValueRange range,
                                                            std::vector<int64_t> counts) {
  if (counts.size() < 3) {
    return absl::InvalidArgumentError("a binned histogram has at least 3 counts");
  }
  if (!(range.min <= range.max)) {
    return absl::InvalidArgumentError("a binned histogram's range must have min <= max");
  }
  BinnedHistogram histogram(range, static_cast<int>(counts.size()) - 2);
  for (int64_t count : counts) {
    if (count < 0) return absl::InvalidArgumentError("a histogram count is negative");
    histogram.total_ += count;
  }
  histogram.counts_ = std::move(counts);
  return histogram;
}

void BinnedHistogram::Add(absl::Span<const float> data) {
  const int inner = bins();
  const double width = static_cast<double>(range_.max) - range_.min;
  for (float v : data) {
    size_t bin;
    if (v < range_.min) {
      bin = 0;
    } else if (!(v <= range_.max)) {  // above, or NaN
      bin = counts_.size() - 1;
    } else if (width == 0.0) {
      bin = 1;
    } else {
      const int inside = static_cast<int>((v - range_.min) / width * inner);
      bin = 1 + static_cast<size_t>(std::min(inside, inner - 1));
    }
    ++counts_[bin];
  }
  total_ += static_cast<int64_t>(data.size());
}

void BinnedHistogram::Add(const BinnedHistogram& other) {
  for (size_t i = 0; i < counts_.size() && i < other.counts_.size(); ++i) {
    counts_[i] += other.counts_[i];
  }
  total_ += other.total_;
}

std::optional<double> PopulationStabilityIndex(const BinnedHistogram& expected,
                                               const BinnedHistogram& actual) {
  if (expected.total() == 0 || actual.total() == 0 ||
      expected.counts().size() != actual.counts().size()) {
    return std::nullopt;
  }
  double psi = 0.0;
  for (size_t i = 0; i < expected.counts().size(); ++i) {
    const double e =
        std::max(static_cast<double>(expected.counts()[i]) / expected.total(), kPsiShareFloor);
    const double a =
        std::max(static_cast<double>(actual.counts()[i]) / actual.total(), kPsiShareFloor);
    psi += (a - e) * std::log(a / e);
  }
  return psi;
}

}  // namespace octet
