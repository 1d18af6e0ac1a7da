// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear: the float runtime executes QDQ
// models exactly as ONNX defines them, so any QDQ model is evaluated in float as the whitepaper's
// simulated quantization does (engine/tensor/affine_quantization.h has the arithmetic).
#include <algorithm>
#include <limits>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/op_families.h"
#include "engine/tensor/affine_quantization.h"

namespace octet {
namespace {

template <typename T>
IntegerRange RangeOf() {
  return {std::numeric_limits<T>::min(), std::numeric_limits<T>::max()};
}

// The loop nest of a per-tensor or per-axis (de)quantization: `outer` blocks of `channels`
// channels of `inner` contiguous elements; one scale and zero point per channel.
struct AxisLayout {
  int64_t outer = 1;
  int64_t channels = 1;
  int64_t inner = 1;
};

// The layout for quantization parameters of shape `param` (scalar or [C]) over `x`.
absl::StatusOr<AxisLayout> LayoutFor(const Node& node, const Shape& x, const TensorDesc& scale,
                                     const std::optional<TensorDesc>& zero_point, int64_t opset) {
  AxisLayout layout;
  for (int64_t d : x) layout.inner *= d;
  // A one-element 1-D scale is per tensor, as ONNX Runtime reads it.
  const bool per_axis = !(scale.shape.empty() || (scale.shape.size() == 1 && scale.shape[0] == 1));
  if (zero_point.has_value() && zero_point->shape != scale.shape) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": zero point ",
                                                   ShapeToString(zero_point->shape), " and scale ",
                                                   ShapeToString(scale.shape), " differ in shape"));
  }
  if (!per_axis) return layout;
  if (opset < 13) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": per-axis scales need opset 13 or later"));
  }
  if (scale.shape.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": scale must be a scalar or 1-D"));
  }
  OCTET_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", 1));
  OCTET_ASSIGN_OR_RETURN(int64_t axis,
                         NormalizeAxis(node, axis_attr, static_cast<int64_t>(x.size())));
  if (x.empty() || scale.shape[0] != x[axis]) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": ", scale.shape[0],
                                                   " scales for axis ", axis, " of ",
                                                   ShapeToString(x)));
  }
  layout.outer = 1;
  for (int64_t i = 0; i < axis; ++i) layout.outer *= x[i];
  layout.channels = x[axis];
  layout.inner = 1;
  for (size_t i = axis + 1; i < x.size(); ++i) layout.inner *= x[i];
  return layout;
}

// Calls f(offset, count, scale, zero_point) for each run of `inner` elements sharing one channel.
template <typename Z, typename F>
void ForEachChannelRun(const AxisLayout& layout, const float* scale, const Z* zero_point, F f) {
  for (int64_t o = 0; o < layout.outer; ++o) {
    for (int64_t c = 0; c < layout.channels; ++c) {
      f((o * layout.channels + c) * layout.inner, layout.inner, scale[c],
        zero_point == nullptr ? 0 : static_cast<int32_t>(zero_point[c]));
    }
  }
}

// As ForEachChannelRun, with the runs cut into pieces of at most kPiece elements that the
// session's OpenMP threads share when there are several: element-wise work whose results do not
// depend on the cut.
template <typename Z, typename F>
void ParallelForEachChannelRun(const AxisLayout& layout, const float* scale, const Z* zero_point,
                               F f) {
  constexpr int64_t kPiece = 1 << 15;
  const int64_t per_run = std::max<int64_t>(1, (layout.inner + kPiece - 1) / kPiece);
  const int64_t count = layout.outer * layout.channels * per_run;
#pragma omp parallel for schedule(static) if (count > 1)
  for (int64_t i = 0; i < count; ++i) {
    const int64_t run = i / per_run, piece = i % per_run;
    const int64_t c = run % layout.channels;
    const int64_t begin = piece * kPiece;
    f(run * layout.inner + begin, std::min(kPiece, layout.inner - begin), scale[c],
      zero_point == nullptr ? 0 : static_cast<int32_t>(zero_point[c]));
  }
}

template <typename Q>
class QuantizeLinearKernel final : public Kernel {
 public:
  explicit QuantizeLinearKernel(AxisLayout layout) : layout_(layout) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    const float* x = inputs[0]->data<float>();
    const float* scale = inputs[1]->data<float>();
    const Q* zero_point =
        inputs.size() > 2 && inputs[2] != nullptr ? inputs[2]->data<Q>() : nullptr;
    Q* y = outputs[0]->data<Q>();
    const IntegerRange range = RangeOf<Q>();
    for (int64_t c = 0; c < layout_.channels; ++c) {
      if (!(scale[c] > 0.0f) || std::isinf(scale[c])) {
        return absl::InvalidArgumentError(
            absl::StrCat("QuantizeLinear: scale ", scale[c], " is not a positive finite number"));
      }
    }
    ParallelForEachChannelRun(layout_, scale, zero_point,
                              [&](int64_t offset, int64_t count, float s, int32_t z) {
                                QuantizeValues(x + offset, count, s, z, range, y + offset);
                              });
    return absl::OkStatus();
  }

 private:
  AxisLayout layout_;
};

template <typename Q>
class DequantizeLinearKernel final : public Kernel {
 public:
  explicit DequantizeLinearKernel(AxisLayout layout) : layout_(layout) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    const Q* x = inputs[0]->data<Q>();
    const float* scale = inputs[1]->data<float>();
    const Q* zero_point =
        inputs.size() > 2 && inputs[2] != nullptr ? inputs[2]->data<Q>() : nullptr;
    float* y = outputs[0]->data<float>();
    ParallelForEachChannelRun(
        layout_, scale, zero_point, [&](int64_t offset, int64_t count, float s, int32_t z) {
          if constexpr (std::is_same_v<Q, uint8_t> || std::is_same_v<Q, int8_t>) {
            DequantizeValues(x + offset, count, s, z, y + offset);
          } else {
            for (int64_t i = offset; i < offset + count; ++i) {
              y[i] = DequantizeValue(x[i], s, z);
            }
          }
        });
    return absl::OkStatus();
  }

 private:
  AxisLayout layout_;
};

absl::Status CheckQuantizeLinear(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 2, 3, 2));
  OCTET_RETURN_IF_ERROR(RequireInputType(context, 0, {DataType::kFloat32}));
  OCTET_RETURN_IF_ERROR(RequireInputType(context, 1, {DataType::kFloat32}));
  return RequireInputType(context, 2, {DataType::kUint8, DataType::kInt8});
}

absl::StatusOr<BuiltKernel> BuildQuantizeLinear(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  if (x.type != DataType::kFloat32 || context.input(1).type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(node.Describe(), ": x and scale must be float32"));
  }
  std::optional<TensorDesc> zero_point;
  if (context.has_input(2)) zero_point = context.input(2);
  OCTET_ASSIGN_OR_RETURN(AxisLayout layout,
                         LayoutFor(node, x.shape, context.input(1), zero_point, context.opset));
  const DataType type = zero_point.has_value() ? zero_point->type : DataType::kUint8;
  BuiltKernel built;
  built.outputs.push_back(TensorDesc{type, x.shape});
  if (type == DataType::kUint8) {
    built.kernel = std::make_unique<QuantizeLinearKernel<uint8_t>>(layout);
  } else if (type == DataType::kInt8) {
    built.kernel = std::make_unique<QuantizeLinearKernel<int8_t>>(layout);
  } else {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(node.Describe(), ": zero point must be uint8 or int8"));
  }
  return built;
}

absl::Status CheckDequantizeLinear(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 2, 3, 2));
  OCTET_RETURN_IF_ERROR(
      RequireInputType(context, 0, {DataType::kUint8, DataType::kInt8, DataType::kInt32}));
  OCTET_RETURN_IF_ERROR(RequireInputType(context, 1, {DataType::kFloat32}));
  return RequireInputType(context, 2, {DataType::kUint8, DataType::kInt8, DataType::kInt32});
}

absl::StatusOr<BuiltKernel> BuildDequantizeLinear(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  if (context.input(1).type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(node.Describe(), ": scale must be float32"));
  }
  std::optional<TensorDesc> zero_point;
  if (context.has_input(2)) {
    zero_point = context.input(2);
    if (zero_point->type != x.type) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": x is ", DataTypeName(x.type), " but its zero point is ",
                       DataTypeName(zero_point->type)));
    }
  }
  OCTET_ASSIGN_OR_RETURN(AxisLayout layout,
                         LayoutFor(node, x.shape, context.input(1), zero_point, context.opset));
  BuiltKernel built;
  built.outputs.push_back(TensorDesc{DataType::kFloat32, x.shape});
  switch (x.type) {
    case DataType::kUint8:
      built.kernel = std::make_unique<DequantizeLinearKernel<uint8_t>>(layout);
      break;
    case DataType::kInt8:
      built.kernel = std::make_unique<DequantizeLinearKernel<int8_t>>(layout);
      break;
    case DataType::kInt32:
      built.kernel = std::make_unique<DequantizeLinearKernel<int32_t>>(layout);
      break;
    default:
      return UnsupportedError(UnsupportedKind::kElementType,
                              absl::StrCat(node.Describe(), ": x must be uint8, int8 or int32"));
  }
  return built;
}

// y_scale = (max(0, max x) - min(0, min x)) / 255, y_zero_point = saturate(round(-min / scale)),
// y = QuantizeLinear(x). An all-zero x has no range; it gets scale 1 and zero point 0 so that
// dequantizing gives back its zeros (ONNX's formula would divide by zero there).
class DynamicQuantizeLinearKernel final : public Kernel {
 public:
  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    const float* x = inputs[0]->data<float>();
    const int64_t n = inputs[0]->element_count();
    float min = 0.0f, max = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isfinite(x[i])) {
        return absl::InvalidArgumentError("DynamicQuantizeLinear: x holds NaN or infinity");
      }
      min = std::min(min, x[i]);
      max = std::max(max, x[i]);
    }
    const IntegerRange range = RangeOf<uint8_t>();
    const float scale = max > min ? (max - min) / 255.0f : 1.0f;
    const int32_t zero_point = RoundAndSaturate(-min / scale, range);
    QuantizeValues(x, n, scale, zero_point, range, outputs[0]->data<uint8_t>());
    *outputs[1]->data<float>() = scale;
    *outputs[2]->data<uint8_t>() = static_cast<uint8_t>(zero_point);
    return absl::OkStatus();
  }
};

absl::Status CheckDynamicQuantizeLinear(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 1, 1, 1));
  return RequireInputType(context, 0, {DataType::kFloat32});
}

absl::StatusOr<BuiltKernel> BuildDynamicQuantizeLinear(const KernelBuildContext& context) {
  const TensorDesc& x = context.input(0);
  if (x.type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(context.node.Describe(), ": x must be float32"));
  }
  BuiltKernel built;
  built.outputs = {TensorDesc{DataType::kUint8, x.shape}, TensorDesc{DataType::kFloat32, {}},
                   TensorDesc{DataType::kUint8, {}}};
  built.kernel = std::make_unique<DynamicQuantizeLinearKernel>();
  return built;
}

}  // namespace

std::vector<OpDefinition> QuantizeOps() {
  return {
      {"QuantizeLinear", CheckQuantizeLinear, BuildQuantizeLinear},
      {"DequantizeLinear", CheckDequantizeLinear, BuildDequantizeLinear},
      {"DynamicQuantizeLinear", CheckDynamicQuantizeLinear, BuildDynamicQuantizeLinear},
  };
}

}  // namespace octet
