#include "engine/quant/observers/mse_observer.h"

#include <cmath>
#include <limits>
#include <vector>

namespace octet {
namespace {

constexpr int kCandidates = 200;
// Rounds of moving each end of an asymmetric range on its own after the joint search.
constexpr int kRefinements = 2;

float InErrorSpace(float value, ErrorSpace space) {
  switch (space) {
    case ErrorSpace::kValue:
      return value;
    case ErrorSpace::kSigmoid:
      return 1.0f / (1.0f + std::exp(-value));
    case ErrorSpace::kTanh:
      return std::tanh(value);
  }
  return value;
}

// An occupied histogram bin: its center, count, and center in the error space.
struct Bin {
  float center = 0.0f;
  double count = 0.0;
  float mapped = 0.0f;
};

class ErrorModel {
 public:
  ErrorModel(const Histogram& histogram, const RangeTarget& target) : target_(target) {
    const float width = histogram.bin_width();
    for (int sign : {1, -1}) {
      const std::vector<double>& side = sign > 0 ? histogram.positive() : histogram.negative();
      for (int i = 0; i < Histogram::kBinsPerSide; ++i) {
        if (side[i] == 0.0) continue;
        const float center = sign * (i + 0.5f) * width;
        bins_.push_back({center, side[i], InErrorSpace(center, target.error_space)});
      }
    }
  }

  // The expected squared error, in the error space, of quantizing the histogram with `range`:
  // clipping and rounding together, each bin's values taken at its center.
  double ExpectedSquaredError(RealRange range) {
    absl::StatusOr<ScaleAndZeroPoint> sz =
        ChooseScaleAndZeroPoint(range.min, range.max, target_.scheme, target_.format);
    if (!sz.ok()) return std::numeric_limits<double>::infinity();
    const IntegerRange integers = target_.format.range();
    // Each integer's value in the error space, computed once per candidate (at most 256).
    levels_.resize(integers.max - integers.min + 1);
    for (int32_t q = integers.min; q <= integers.max; ++q) {
      levels_[q - integers.min] =
          InErrorSpace(DequantizeValue(q, sz->scale, sz->zero_point), target_.error_space);
    }
    double error = 0.0;
    for (const Bin& bin : bins_) {
      const int32_t q = QuantizeValue(bin.center, sz->scale, sz->zero_point, integers);
      const double difference = bin.mapped - levels_[q - integers.min];
      error += bin.count * difference * difference;
    }
    return error;
  }

 private:
  RangeTarget target_;
  std::vector<Bin> bins_;
  std::vector<float> levels_;
};

}  // namespace

RealRange MseObserver::RangeFromHistogram(const Histogram& histogram,
                                          const RangeTarget& target) const {
  ErrorModel model(histogram, target);
  RealRange best{histogram.min(), histogram.max()};
  double best_error = std::numeric_limits<double>::infinity();
  auto consider = [&](RealRange candidate) {
    const double error = model.ExpectedSquaredError(candidate);
    if (error < best_error) {
      best_error = error;
      best = candidate;
    }
  };
  for (int k = kCandidates; k >= 1; --k) {
    const float factor = static_cast<float>(k) / kCandidates;
    consider({histogram.min() * factor, histogram.max() * factor});
  }
  // A range over both signs in an asymmetric format need not shrink evenly: a tail on one side
  // (logits far below 0 with the values that matter near it) is clipped on its own.
  if (target.scheme == QuantizationScheme::kAsymmetric && histogram.min() < 0.0f &&
      histogram.max() > 0.0f) {
    for (int round = 0; round < kRefinements; ++round) {
      const RealRange start = best;
      for (int k = kCandidates; k >= 1; --k) {
        consider({histogram.min() * k / kCandidates, start.max});
      }
      const float min = best.min;
      for (int k = kCandidates; k >= 1; --k) {
        consider({min, histogram.max() * k / kCandidates});
      }
    }
  }
  return best;
}

}  // namespace octet
