#include "engine/quant/quantization_params.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace octet {

IntegerRange IntegerFormat::range() const {
  if (bits >= 32) return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
  const int32_t levels = 1 << bits;
  IntegerRange r;
  if (type == DataType::kUint8) {
    r = {0, levels - 1};
  } else {
    r = {-levels / 2, levels / 2 - 1};
  }
  if (narrow_range) ++r.min;
  return r;
}

absl::StatusOr<ScaleAndZeroPoint> ChooseScaleAndZeroPoint(float min, float max,
                                                          QuantizationScheme scheme,
                                                          const IntegerFormat& format) {
  if (!std::isfinite(min) || !std::isfinite(max) || min > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("range [", min, ", ", max, "] is not a finite interval"));
  }
  min = std::min(min, 0.0f);
  max = std::max(max, 0.0f);
  const IntegerRange range = format.range();
  const float span = static_cast<float>(range.max - range.min);
  ScaleAndZeroPoint result;
  if (scheme == QuantizationScheme::kSymmetric) {
    const float magnitude = std::max(-min, max);
    if (magnitude > 0.0f) result.scale = magnitude / (span / 2.0f);
    // Centred: 0 for signed formats, the middle of the range for unsigned ones.
    result.zero_point = format.type == DataType::kUint8 ? (range.min + range.max + 1) / 2 : 0;
    return result;
  }
  if (max > min) result.scale = (max - min) / span;
  result.zero_point = RoundAndSaturate(static_cast<float>(range.min) - min / result.scale, range);
  return result;
}

}  // namespace octet
