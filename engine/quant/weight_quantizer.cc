#include "engine/quant/weight_quantizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet {
namespace {

// outer x channels x inner, as the tensor is laid out around `axis`.
struct ChannelLayout {
  int64_t outer = 1, channels = 1, inner = 1;
};

ChannelLayout LayoutAround(const Shape& shape, int64_t axis) {
  ChannelLayout layout;
  if (axis < 0) {
    for (int64_t d : shape) layout.inner *= d;
    return layout;
  }
  for (int64_t i = 0; i < axis; ++i) layout.outer *= shape[i];
  layout.channels = shape[axis];
  for (size_t i = axis + 1; i < shape.size(); ++i) layout.inner *= shape[i];
  return layout;
}

// A uniform draw in [0, 1) from 53 random bits: the same on every platform (the standard
// distributions are not specified bit for bit).
double UniformDraw(std::mt19937_64& generator) {
  return static_cast<double>(generator() >> 11) * 0x1.0p-53;
}

}  // namespace

absl::StatusOr<QuantizedTensor> QuantizeWeights(const Tensor& weights, int64_t channel_axis,
                                                const WeightQuantizationSpec& spec) {
  if (weights.type() != DataType::kFloat32) {
    return absl::InvalidArgumentError(
        absl::StrCat("weights are ", DataTypeName(weights.type()), "; only float32 is quantized"));
  }
  if (spec.bits < kMinWeightBits || spec.bits > kMaxWeightBits) {
    return absl::InvalidArgumentError(absl::StrCat(spec.bits, "-bit weights are not supported (",
                                                   kMinWeightBits, " to ", kMaxWeightBits, ")"));
  }
  const int64_t axis = spec.per_channel ? channel_axis : -1;
  if (spec.per_channel && (axis < 0 || axis >= weights.rank())) {
    return absl::InvalidArgumentError(absl::StrCat("channel axis ", channel_axis,
                                                   " is out of range for weights ",
                                                   ShapeToString(weights.shape())));
  }
  const float* w = weights.data<float>();
  for (int64_t i = 0; i < weights.element_count(); ++i) {
    if (!std::isfinite(w[i])) {
      return absl::InvalidArgumentError(absl::StrCat("weight ", i, " is ", w[i]));
    }
  }
  QuantizedTensor result;
  QuantizationParams& params = result.params;
  params.format = IntegerFormat{DataType::kInt8, spec.bits, spec.narrow_range};
  params.axis = axis;
  const ChannelLayout layout = LayoutAround(weights.shape(), axis);
  std::vector<float> mins(layout.channels, std::numeric_limits<float>::infinity());
  std::vector<float> maxs(layout.channels, -std::numeric_limits<float>::infinity());
  for (int64_t o = 0; o < layout.outer; ++o) {
    for (int64_t c = 0; c < layout.channels; ++c) {
      const float* block = w + (o * layout.channels + c) * layout.inner;
      for (int64_t i = 0; i < layout.inner; ++i) {
        mins[c] = std::min(mins[c], block[i]);
        maxs[c] = std::max(maxs[c], block[i]);
      }
    }
  }
  for (int64_t c = 0; c < layout.channels; ++c) {
    if (mins[c] > maxs[c]) mins[c] = maxs[c] = 0.0f;  // an empty tensor
    OCTET_ASSIGN_OR_RETURN(ScaleAndZeroPoint sz,
                           ChooseScaleAndZeroPoint(mins[c], maxs[c], spec.scheme, params.format));
    params.scales.push_back(sz.scale);
    params.zero_points.push_back(sz.zero_point);
  }
  OCTET_ASSIGN_OR_RETURN(result.values, Tensor::Create(DataType::kInt8, weights.shape()));
  int8_t* q = result.values.data<int8_t>();
  const IntegerRange range = params.format.range();
  std::mt19937_64 generator(spec.seed);
  for (int64_t o = 0; o < layout.outer; ++o) {
    for (int64_t c = 0; c < layout.channels; ++c) {
      const int64_t offset = (o * layout.channels + c) * layout.inner;
      const float s = params.scales[c];
      const int32_t z = params.zero_points[c];
      for (int64_t i = 0; i < layout.inner; ++i) {
        int32_t value;
        if (spec.rounding == Rounding::kStochastic) {
          const double noisy =
              std::floor(static_cast<double>(w[offset + i]) / s + UniformDraw(generator)) + z;
          value = static_cast<int32_t>(
              std::clamp(noisy, static_cast<double>(range.min), static_cast<double>(range.max)));
        } else {
          value = QuantizeValue(w[offset + i], s, z, range);
        }
        q[offset + i] = static_cast<int8_t>(value);
      }
    }
  }
  return result;
}

Tensor DequantizeTensor(const QuantizedTensor& quantized) {
  const Tensor& values = quantized.values;
  const QuantizationParams& params = quantized.params;
  Tensor out = *Tensor::Create(DataType::kFloat32, values.shape());
  const ChannelLayout layout = LayoutAround(values.shape(), params.axis);
  float* y = out.data<float>();
  for (int64_t o = 0; o < layout.outer; ++o) {
    for (int64_t c = 0; c < layout.channels; ++c) {
      const int64_t offset = (o * layout.channels + c) * layout.inner;
      for (int64_t i = 0; i < layout.inner; ++i) {
        const int32_t q = values.type() == DataType::kInt32   ? values.data<int32_t>()[offset + i]
                          : values.type() == DataType::kUint8 ? values.data<uint8_t>()[offset + i]
                                                              : values.data<int8_t>()[offset + i];
        y[offset + i] = DequantizeValue(q, params.scales[c], params.zero_points[c]);
      }
    }
  }
  return out;
}

absl::StatusOr<QuantizedTensor> QuantizeBias(const Tensor& bias, float input_scale,
                                             const QuantizationParams& weight_params) {
  if (bias.type() != DataType::kFloat32 || bias.rank() != 1) {
    return absl::InvalidArgumentError("a bias must be a 1-D float32 tensor");
  }
  const int64_t n = bias.dim(0);
  const bool per_channel = weight_params.scales.size() > 1;
  if (per_channel && static_cast<int64_t>(weight_params.scales.size()) != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bias has ", n, " values for ", weight_params.scales.size(), " weight channels"));
  }
  QuantizedTensor result;
  result.params.format = IntegerFormat{DataType::kInt32, 32, false};
  result.params.axis = per_channel ? 0 : -1;
  for (float s : weight_params.scales) {
    result.params.scales.push_back(input_scale * s);
    result.params.zero_points.push_back(0);
  }
  OCTET_ASSIGN_OR_RETURN(result.values, Tensor::Create(DataType::kInt32, {n}));
  const float* b = bias.data<float>();
  int32_t* q = result.values.data<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(b[i]))
      return absl::InvalidArgumentError(absl::StrCat("bias ", i, " is ", b[i]));
    const double scaled =
        std::nearbyint(static_cast<double>(b[i]) / result.params.scales[per_channel ? i : 0]);
    q[i] = static_cast<int32_t>(std::clamp(scaled, -2147483648.0, 2147483647.0));
  }
  return result;
}

}  // namespace octet
