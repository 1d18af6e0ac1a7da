// Resize (opset 10 to 17): nearest and linear, with the coordinate transformation modes
// half_pixel, pytorch_half_pixel, align_corners, asymmetric and tf_half_pixel_for_nn, and the
// four nearest rounding modes. Both modes are separable, so the kernel resizes one axis at a time.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

// Output coordinate j along an axis reads input[taps[j].index[k]] * taps[j].weight[k].
struct Tap {
  int64_t index[2];
  float weight[2];
  int count;
};

struct AxisPlan {
  int axis;
  std::vector<Tap> taps;
};

class ResizeKernel final : public Kernel {
 public:
  ResizeKernel(Shape input, std::vector<AxisPlan> axes)
      : input_(std::move(input)), axes_(std::move(axes)) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    Shape shape = input_;
    // The first pass reads the input in place; later passes read the previous pass's buffer.
    const float* current = inputs[0]->data<float>();
    std::vector<float> buffers[2];
    for (size_t p = 0; p < axes_.size(); ++p) {
      const AxisPlan& plan = axes_[p];
      int64_t outer = 1, inner = 1;
      for (int d = 0; d < plan.axis; ++d) outer *= shape[d];
      for (size_t d = plan.axis + 1; d < shape.size(); ++d) inner *= shape[d];
      const int64_t in_len = shape[plan.axis], out_len = static_cast<int64_t>(plan.taps.size());
      const bool last = p + 1 == axes_.size();
      float* out = last ? outputs[0]->data<float>() : nullptr;
      if (!last) {
        std::vector<float>& next = buffers[p % 2];
        next.assign(outer * out_len * inner, 0.0f);
        out = next.data();
      }
      for (int64_t o = 0; o < outer; ++o) {
        const float* src = current + o * in_len * inner;
        for (int64_t j = 0; j < out_len; ++j) {
          const Tap& tap = plan.taps[j];
          float* dst = out + (o * out_len + j) * inner;
          const float* a = src + tap.index[0] * inner;
          if (tap.count == 1) {
            for (int64_t i = 0; i < inner; ++i) dst[i] = a[i];
          } else {
            const float* b = src + tap.index[1] * inner;
            const float wa = tap.weight[0], wb = tap.weight[1];
            for (int64_t i = 0; i < inner; ++i) dst[i] = wa * a[i] + wb * b[i];
          }
        }
      }
      shape[plan.axis] = out_len;
      if (!last) current = out;
    }
    if (axes_.empty()) {
      std::copy(current, current + inputs[0]->element_count(), outputs[0]->data<float>());
    }
    return absl::OkStatus();
  }

 private:
  Shape input_;
  std::vector<AxisPlan> axes_;
};

absl::Status CheckResize(const CheckContext& context) {
  const Node& node = context.node;
  OCTET_RETURN_IF_ERROR(RequireInputCount(node, 2, 4, 1));
  OCTET_RETURN_IF_ERROR(RequireInputType(context, 0, {DataType::kFloat32}));
  OCTET_ASSIGN_OR_RETURN(std::string mode, node.GetString("mode", "nearest"));
  OCTET_ASSIGN_OR_RETURN(std::string transform,
                         node.GetString("coordinate_transformation_mode", "half_pixel"));
  if (mode != "nearest" && mode != "linear") {
    return UnsupportedError(UnsupportedKind::kAttribute,
                            absl::StrCat(node.Describe(), ": mode '", mode, "'"));
  }
  if (transform == "tf_crop_and_resize") {
    return UnsupportedError(UnsupportedKind::kAttribute,
                            absl::StrCat(node.Describe(), ": tf_crop_and_resize"));
  }
  if (node.HasAttribute("antialias") || node.HasAttribute("axes")) {
    return UnsupportedError(UnsupportedKind::kAttribute,
                            absl::StrCat(node.Describe(), ": antialias and axes (opset 18)"));
  }
  return absl::OkStatus();
}

// What Resize's attributes say, read once.
struct ResizeMode {
  std::string mode, transform, nearest_mode;
};

// The taps of output index `j` along an axis of `in` values scaled by `scale` (`resized` = in *
// scale, ONNX's length before rounding).
Tap TapFor(const ResizeMode& m, int64_t j, int64_t in, double scale, double resized) {
  double source;
  if (m.transform == "half_pixel") {
    source = (j + 0.5) / scale - 0.5;
  } else if (m.transform == "pytorch_half_pixel") {
    source = resized > 1 ? (j + 0.5) / scale - 0.5 : 0.0;
  } else if (m.transform == "align_corners") {
    source = resized == 1 ? 0.0 : j * static_cast<double>(in - 1) / (resized - 1);
  } else if (m.transform == "tf_half_pixel_for_nn") {
    source = (j + 0.5) / scale;
  } else {
    source = j / scale;
  }
  if (m.mode == "nearest") {
    double index;
    const double frac = source - std::floor(source);
    if (m.nearest_mode == "floor") {
      index = std::floor(source);
    } else if (m.nearest_mode == "ceil") {
      index = std::ceil(source);
    } else if (m.nearest_mode == "round_prefer_ceil") {
      index = frac == 0.5 ? std::ceil(source) : std::round(source);
    } else {
      index = frac == 0.5 ? std::floor(source) : std::round(source);
    }
    return {{std::clamp<int64_t>(static_cast<int64_t>(index), 0, in - 1), 0}, {1.0f, 0.0f}, 1};
  }
  const double clamped = std::clamp(source, 0.0, static_cast<double>(in - 1));
  const int64_t i0 = static_cast<int64_t>(std::floor(clamped));
  const int64_t i1 = std::min(i0 + 1, in - 1);
  const float w1 = static_cast<float>(clamped - i0);
  return {{i0, i1}, {1.0f - w1, w1}, 2};
}

absl::StatusOr<BuiltKernel> BuildResize(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const size_t rank = x.shape.size();
  ResizeMode m;
  OCTET_ASSIGN_OR_RETURN(m.mode, node.GetString("mode", "nearest"));
  // Opset 10 has no transformation attribute; its behaviour is "asymmetric".
  OCTET_ASSIGN_OR_RETURN(m.transform,
                         node.GetString("coordinate_transformation_mode",
                                        context.opset < 11 ? "asymmetric" : "half_pixel"));
  OCTET_ASSIGN_OR_RETURN(m.nearest_mode, node.GetString("nearest_mode", "round_prefer_floor"));
  const size_t scales_input = context.opset < 11 ? 1 : 2, sizes_input = 3;
  std::vector<double> scales(rank, 1.0);
  Shape y = x.shape;
  const Tensor* sizes = context.has_input(sizes_input) ? context.constant(sizes_input) : nullptr;
  const Tensor* scale_tensor =
      context.has_input(scales_input) ? context.constant(scales_input) : nullptr;
  if (sizes != nullptr && sizes->element_count() > 0) {
    OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> values, ConstantInts(context, sizes_input));
    if (values.size() != rank) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": sizes has ", values.size(), " entries for rank ", rank));
    }
    for (size_t d = 0; d < rank; ++d) {
      if (values[d] < 0 || x.shape[d] == 0) {
        return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": bad size"));
      }
      y[d] = values[d];
      scales[d] = static_cast<double>(values[d]) / static_cast<double>(x.shape[d]);
    }
  } else if (scale_tensor != nullptr && scale_tensor->type() == DataType::kFloat32 &&
             scale_tensor->element_count() == static_cast<int64_t>(rank)) {
    for (size_t d = 0; d < rank; ++d) {
      scales[d] = scale_tensor->data<float>()[d];
      if (!(scales[d] > 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat(node.Describe(), ": scales must be positive"));
      }
      y[d] = static_cast<int64_t>(std::floor(x.shape[d] * scales[d]));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": needs constant scales or sizes for every dimension"));
  }

  std::vector<AxisPlan> axes;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t in = x.shape[d], out = y[d];
    if (in == out && scales[d] == 1.0) continue;
    AxisPlan plan{static_cast<int>(d), std::vector<Tap>(out)};
    // ONNX measures the resized length before rounding (in * scale) when scales are given.
    const double resized = static_cast<double>(in) * scales[d];
    for (int64_t j = 0; j < out; ++j) plan.taps[j] = TapFor(m, j, in, scales[d], resized);
    axes.push_back(std::move(plan));
  }
  BuiltKernel built;
  built.outputs.push_back({DataType::kFloat32, y});
  built.kernel = std::make_unique<ResizeKernel>(x.shape, std::move(axes));
  return built;
}

}  // namespace

std::vector<OpDefinition> ResizeOps() { return {{"Resize", CheckResize, BuildResize, 0b1110}}; }

}  // namespace octet
