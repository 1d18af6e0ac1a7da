// How a tensor is quantized: the integer type and range, and one scale and zero point per tensor
// or per channel (whitepaper section 1; ONNX QuantizeLinear semantics).
#ifndef OCTET_ENGINE_QUANT_QUANTIZATION_PARAMS_H_
#define OCTET_ENGINE_QUANT_QUANTIZATION_PARAMS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor/affine_quantization.h"
#include "engine/tensor/data_type.h"

namespace octet {

enum class QuantizationScheme {
  // Zero point 0, range symmetric around it.
  kSymmetric,
  // Scale and zero point fit [min, max]; the range is widened to include 0.
  kAsymmetric,
};

// The integer format values are stored in.
struct IntegerFormat {
  // kUint8 or kInt8 (4-bit values live in an int8 container).
  DataType type = DataType::kUint8;
  int bits = 8;
  // [-127, 127] instead of [-128, 127] (or [-7, 7] instead of [-8, 7]): the whitepaper's range for
  // symmetric weights, so that products fit faster SIMD.
  bool narrow_range = false;

  IntegerRange range() const;
};

struct QuantizationParams {
  IntegerFormat format;
  // One per channel along `axis`, or one for the whole tensor (axis -1).
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
  int64_t axis = -1;

  bool per_channel() const { return axis >= 0; }
};

// The scale and zero point that map the real range [min, max] onto `format` under `scheme`.
// The range is first widened to include 0, so that 0 is exactly representable (padding, ReLU):
// a range starting at 0 gets the format's lowest integer as zero point (0 for uint8). Symmetric
// ranges use max(|min|, |max|) over half the integer span. A degenerate range (all zeros) gets
// scale 1. INVALID_ARGUMENT when min or max is not finite or min > max.
struct ScaleAndZeroPoint {
  float scale = 1.0f;
  int32_t zero_point = 0;
};
absl::StatusOr<ScaleAndZeroPoint> ChooseScaleAndZeroPoint(float min, float max,
                                                          QuantizationScheme scheme,
                                                          const IntegerFormat& format);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_QUANTIZATION_PARAMS_H_
