// ai.octet.Int8Conv, the int8 convolution the lowering makes of DQ -> Conv [-> activation] -> Q:
// Octet's AVX2 depthwise kernel where it applies, else oneDNN's int8 convolution where that is
// exact on the CPU at hand, else (1x1, AVX2 without VNNI, 8-bit weights) Octet's exact product.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/cpu/int8_depthwise_conv.h"
#include "engine/runtime/cpu/int8_gemm.h"
#include "engine/runtime/cpu/int8_winograd.h"
#include "engine/runtime/onednn/conv_common.h"
#include "engine/runtime/onednn/int8_support.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

using dnnl::memory;
using onednn::ConvGeometry;

// An int8 residual Add fused into the convolution before it (OpDefinition::sum_op): the inputs
// the plan passes from kInt8ConvSumInput on.
constexpr int kInt8ConvSumInput = 8;
struct Int8Residual {
  TensorDesc desc;  // the other operand, whose buffer the result is written over
  float scale;
  int32_t zero;
  DataType y_type;  // the Add's result
  float y_scale;
  int32_t y_zero;
  bool relu;  // the Add's activation
};

// The fused Add's operands when the context has one; UNIMPLEMENTED (build without it) when the
// Add reads the convolution's result with other parameters than the convolution wrote it with.
absl::StatusOr<std::optional<Int8Residual>> ReadInt8Residual(const KernelBuildContext& context) {
  if (!context.fuse_sum || context.sum_node == nullptr) return std::nullopt;
  const Node& node = context.node;
  const int at = kInt8ConvSumInput;
  auto constant = [&](int i) { return context.constant(at + i); };
  if (!context.has_input(at) || constant(1) == nullptr || constant(3) == nullptr ||
      constant(5) == nullptr || (context.has_input(at + 2) && constant(2) == nullptr) ||
      (context.has_input(at + 4) && constant(4) == nullptr) ||
      (context.has_input(at + 6) && constant(6) == nullptr)) {
    return absl::UnimplementedError(
        absl::StrCat(node.Describe(), ": the Add's parameters are not constants"));
  }
  auto type_of = [&](int i) {
    return context.has_input(at + i) ? context.input(at + i).type : DataType::kUint8;
  };
  const DataType own_type = context.has_input(6) ? context.input(6).type : DataType::kUint8;
  if (type_of(4) != own_type ||
      onednn::ScalarParameter(constant(3)) != onednn::ScalarParameter(context.constant(5)) ||
      onednn::ScalarParameter(constant(4)) != onednn::ScalarParameter(context.constant(6))) {
    return absl::UnimplementedError(absl::StrCat(
        node.Describe(), ": the Add reads the result with other quantization parameters"));
  }
  Int8Residual r;
  r.desc = context.input(at);
  r.scale = onednn::ScalarParameter(constant(1));
  r.zero = static_cast<int32_t>(onednn::ScalarParameter(constant(2)));
  r.y_type = type_of(6);
  r.y_scale = onednn::ScalarParameter(constant(5));
  r.y_zero = static_cast<int32_t>(onednn::ScalarParameter(constant(6)));
  OCTET_ASSIGN_OR_RETURN(const std::string activation,
                         context.sum_node->GetString("activation", ""));
  if (!activation.empty() && activation != "Relu") {
    return absl::InvalidArgumentError(
        absl::StrCat(context.sum_node->Describe(), ": unknown activation ", activation));
  }
  r.relu = activation == "Relu";
  if ((r.y_type != DataType::kUint8 && r.y_type != DataType::kInt8) || r.desc.type != r.y_type) {
    // The result overwrites the residual's buffer.
    return absl::UnimplementedError(
        absl::StrCat(node.Describe(), ": the residual and the sum differ in type"));
  }
  return r;
}

// Post-ops that finish the convolution's own quantization step exactly as the QDQ graph does
// (round half to even and saturate to y_type in units of y_scale, zero point y_zero), then take
// the result to the Add's units and add the residual: dst = (y_scale / s) * conv_q + (s_r / s) *
// (r - z_r), Relu if the Add has it, and the Add's zero point as the destination's.
void AppendResidual(const Int8Residual& r, float y_scale, int32_t y_zero, DataType y_type,
                    dnnl::post_ops& ops) {
  const float low = y_type == DataType::kUint8 ? 0.0f : -128.0f;
  const float high = y_type == DataType::kUint8 ? 255.0f : 127.0f;
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_round, 0.0f, 0.0f);
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, low - static_cast<float>(y_zero),
                     high - static_cast<float>(y_zero));
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, y_scale / r.y_scale, 0.0f);
  ops.append_sum(r.scale / r.y_scale, r.zero, *onednn::ToOneDnn(r.desc.type));
  if (r.relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
}

// What both implementations of an Int8Conv compute from the node and its constants.
struct Int8ConvParams {
  ConvGeometry g;
  // Accumulator to output units (to real units for activations that need them).
  std::vector<float> scales;
  // In accumulator units, with the source zero point folded in.
  std::optional<Tensor> bias;
  onednn::Int8Activation activation;
  float y_scale = 1;
  int32_t x_zero = 0, y_zero = 0;
  DataType y_type = DataType::kUint8;
  std::optional<Int8Residual> residual;
  bool fold_zero_point = false, padded = false;
  // With a folded zero point and padding: the kernel pads the source, oneDNN sees it unpadded.
  std::optional<onednn::ExplicitPadding> explicit_padding;
  Shape src_shape;
  memory::dims pad_l, pad_r;
};

absl::StatusOr<Int8ConvParams> ReadInt8Conv(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  for (size_t i : {1, 3, 4, 5}) {
    if (context.constant(i) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": input ", i, " must be a constant"));
    }
  }
  const Tensor& w = *context.constant(3);
  const Tensor& w_scale = *context.constant(4);
  const float x_scale = onednn::ScalarParameter(context.constant(1));
  const float y_scale = onednn::ScalarParameter(context.constant(5));
  const auto x_zero = static_cast<int32_t>(onednn::ScalarParameter(context.constant(2)));
  const auto y_zero = static_cast<int32_t>(onednn::ScalarParameter(context.constant(6)));
  const DataType y_type = context.has_input(6) ? context.input(6).type : DataType::kUint8;
  OCTET_ASSIGN_OR_RETURN(const std::optional<Int8Residual> residual, ReadInt8Residual(context));
  if ((x.type != DataType::kUint8 && x.type != DataType::kInt8) || w.type() != DataType::kInt8 ||
      (y_type != DataType::kUint8 && y_type != DataType::kInt8)) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": u8/s8 X and Y, s8 W"));
  }
  OCTET_ASSIGN_OR_RETURN(ConvGeometry g, onednn::ComputeGeometry(node, x.shape, w.shape()));
  const int64_t out_channels = w.dim(0);
  std::vector<float> scales(out_channels);
  for (int64_t c = 0; c < out_channels; ++c) {
    scales[c] = x_scale * w_scale.data<float>()[w_scale.element_count() == 1 ? 0 : c];
  }
  OCTET_ASSIGN_OR_RETURN(const onednn::Int8Activation activation, onednn::ReadInt8Activation(node));
  // The source zero point comes out of the sum: sum w (x - z) = sum w x - z sum w, a constant
  // per output channel that joins the bias, when every input the kernel reads is real or the
  // zero point itself. oneDNN then runs its kernel without zero points, which is much faster
  // (and on some shapes the only vectorized one).
  const bool padded = std::any_of(g.pad_l.begin(), g.pad_l.end(), [](auto p) { return p != 0; }) ||
                      std::any_of(g.pad_r.begin(), g.pad_r.end(), [](auto p) { return p != 0; });
  const bool fold_zero_point = x_zero != 0;
  // Padded with a zero point, the kernel pads the source itself (ExplicitPadding) so that the
  // zero point still comes out of the sum: what oneDNN sees is an unpadded convolution.
  std::optional<onednn::ExplicitPadding> explicit_padding;
  Shape src_shape = x.shape;
  memory::dims pad_l = g.pad_l, pad_r = g.pad_r;
  if (fold_zero_point && padded) {
    // The zero point's byte, u8 or s8 (two's complement).
    explicit_padding =
        onednn::ExplicitPadding{x.shape, g.pad_l, static_cast<uint8_t>(x_zero), x.type};
    for (size_t d = 0; d < g.pad_l.size(); ++d) src_shape[2 + d] += g.pad_l[d] + g.pad_r[d];
    std::fill(pad_l.begin(), pad_l.end(), 0);
    std::fill(pad_r.begin(), pad_r.end(), 0);
  }
  std::optional<Tensor> bias;
  if (context.has_input(7) || fold_zero_point) {
    const Tensor* b = context.has_input(7) ? context.constant(7) : nullptr;
    if (context.has_input(7) &&
        (b == nullptr || b->type() != DataType::kFloat32 || b->element_count() != out_channels)) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": bias must be a float32 constant [", out_channels, "]"));
    }
    std::vector<float> accumulator_units(out_channels, 0.0f);
    const int64_t per_channel = w.element_count() / out_channels;
    for (int64_t c = 0; c < out_channels; ++c) {
      double value = b != nullptr ? b->data<float>()[c] / scales[c] : 0.0;
      if (fold_zero_point) {
        int64_t sum = 0;
        for (int64_t i = 0; i < per_channel; ++i) sum += w.data<int8_t>()[c * per_channel + i];
        value -= static_cast<double>(x_zero) * sum;
      }
      accumulator_units[c] = static_cast<float>(value);
    }
    bias = Tensor::FromVector<float>({out_channels}, accumulator_units);
  }
  if (!activation.in_real_units()) {
    for (float& scale : scales) scale /= y_scale;
  }
  return Int8ConvParams{std::move(g),
                        std::move(scales),
                        std::move(bias),
                        activation,
                        y_scale,
                        x_zero,
                        y_zero,
                        y_type,
                        residual,
                        fold_zero_point,
                        padded,
                        std::move(explicit_padding),
                        std::move(src_shape),
                        std::move(pad_l),
                        std::move(pad_r)};
}

// The 2-D window of a convolution over `x` with `w`'s kernel, in the fields Octet's AVX2 kernels'
// specs share (Int8DepthwiseConvSpec, Int8GemmSpec::Convolution).
template <typename Spec>
void SetWindow(const ConvGeometry& g, const Shape& x, const Tensor& w, Spec* spec) {
  spec->in_h = x[2];
  spec->in_w = x[3];
  spec->out_h = g.y_shape[2];
  spec->out_w = g.y_shape[3];
  spec->kernel_h = w.dim(2);
  spec->kernel_w = w.dim(3);
  spec->stride_h = g.strides[0];
  spec->stride_w = g.strides[1];
  spec->dilation_h = g.dilations[0] + 1;  // oneDNN's gaps, back to ONNX's steps
  spec->dilation_w = g.dilations[1] + 1;
  spec->pad_top = g.pad_l[0];
  spec->pad_left = g.pad_l[1];
}

// An Int8Conv with one filter per channel on Octet's own AVX2 kernel (exact for 8-bit weights
// without VNNI, and faster than oneDNN 2.6's there): `scales` take the accumulator to output units
// (to real units for activations that need them), `bias` is in accumulator units with the source
// zero point folded in, which the kernel's reading of the zero point outside the input keeps exact
// at the borders.
absl::StatusOr<BuiltKernel> BuildInt8DepthwiseConv(const KernelBuildContext& context,
                                                   const ConvGeometry& g, std::vector<float> scales,
                                                   const std::optional<Tensor>& bias,
                                                   const onednn::Int8Activation& activation,
                                                   float y_scale) {
  const TensorDesc& x = context.input(0);
  const Tensor& w = *context.constant(3);
  if (!x.plain() && !x.channels_last) {
    // Int8 tensors are never channel-blocked (that layout is the float convolutions').
    return absl::InternalError(absl::StrCat(context.node.Describe(), ": an int8 source ",
                                            ToString(x), " in a blocked layout"));
  }
  cpu::Int8DepthwiseConvSpec spec;
  spec.x_type = x.type;
  spec.y_type = context.has_input(6) ? context.input(6).type : DataType::kUint8;
  spec.x_channels_last = x.channels_last;
  spec.batch = x.shape[0];
  spec.channels = x.shape[1];
  SetWindow(g, x.shape, w, &spec);
  spec.x_zero = static_cast<int32_t>(onednn::ScalarParameter(context.constant(2)));
  spec.y_zero = static_cast<int32_t>(onednn::ScalarParameter(context.constant(6)));
  const auto weights = w.values<int8_t>();
  spec.weights.assign(weights.begin(), weights.end());
  spec.bias = bias.has_value()
                  ? std::vector<float>(bias->values<float>().begin(), bias->values<float>().end())
                  : std::vector<float>(spec.channels, 0.0f);
  spec.scale = std::move(scales);
  using Activation = cpu::Int8DepthwiseConvSpec::Activation;
  if (activation.kind == "Relu") {
    spec.activation = Activation::kRelu;
  } else if (activation.kind == "LeakyRelu") {
    spec.activation = Activation::kLeakyRelu;
    spec.alpha = activation.alpha;
  } else if (activation.kind == "Clip") {
    spec.activation = Activation::kClip;
    spec.alpha = activation.alpha / y_scale;
    spec.beta = activation.beta / y_scale;
  } else if (activation.kind == "HardSwish") {
    spec.activation = Activation::kHardSwish;
    spec.post_scale = 1.0f / y_scale;
  }
  const DataType y_type = spec.y_type;
  const int32_t x_zero = spec.x_zero, y_zero = spec.y_zero;
  const bool padded = spec.pad_top > 0 || spec.pad_left > 0 || g.pad_r[0] > 0 || g.pad_r[1] > 0;
  BuiltKernel built;
  OCTET_ASSIGN_OR_RETURN(built.kernel, cpu::MakeInt8DepthwiseConvKernel(std::move(spec)));
  TensorDesc y_desc{y_type, g.y_shape};
  y_desc.channels_last = true;
  built.outputs.push_back(y_desc);
  built.notes = absl::StrCat(
      "depthwise, ", DataTypeName(x.type), " source zero point ", x_zero,
      x_zero == 0 ? ""
      : padded    ? " (folded into the bias; padded with the zero point by the kernel)"
                  : " (folded into the bias: no padding)",
      ", s8 weights (exact at 8 bits: int32 sums of 16-bit products), ", DataTypeName(y_type),
      " destination zero point ", y_zero,
      activation.kind.empty() ? std::string() : absl::StrCat(", fused ", activation.kind));
  return built;
}

absl::StatusOr<BuiltKernel> BuildOctetDepthwiseConv(const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(Int8ConvParams p, ReadInt8Conv(context));
  if (p.residual.has_value()) {
    return absl::UnimplementedError(
        absl::StrCat(context.node.Describe(), ": Octet's depthwise kernel adds no residual"));
  }
  return BuildInt8DepthwiseConv(context, p.g, std::move(p.scales), p.bias, p.activation, p.y_scale);
}

absl::Status OctetDepthwiseApplies(const KernelBuildContext& context) {
  const Tensor* w = context.constant(3);
  OCTET_ASSIGN_OR_RETURN(const int64_t group, context.node.GetInt("group", 1));
  OCTET_ASSIGN_OR_RETURN(const std::string activation, context.node.GetString("activation", ""));
  if (w == nullptr || !cpu::Int8DepthwiseConvApplies(w->shape(), group, activation)) {
    return absl::FailedPreconditionError(
        "runs on CPUs with AVX2 and without VNNI, one 2-D filter of at most 64 taps per channel, "
        "with at most a Relu, LeakyRelu, Clip or HardSwish");
  }
  return absl::OkStatus();
}

// ai.octet.Int8Conv(x_q, x_scale, x_zero_point, w_q, w_scale, y_scale, y_zero_point[, bias]),
// made by LowerQdqToInt8 from DQ -> Conv [-> activation] -> Q: oneDNN's int8 convolution with
// output scales x_scale * w_scale[c] / y_scale, the source and destination zero points, the bias
// in accumulator units, and the activation as a post-op (in real units where it is not
// scale-invariant, then rescaled by 1 / y_scale).
absl::Status CheckInt8Conv(const CheckContext& context) {
  return RequireInputCount(context.node, 7, 8, 7);
}

absl::StatusOr<BuiltKernel> BuildOneDnnInt8Conv(const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(Int8ConvParams p, ReadInt8Conv(context));
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const Tensor& w = *context.constant(3);
  const Tensor& w_scale = *context.constant(4);
  const ConvGeometry& g = p.g;
  const int64_t out_channels = w.dim(0);
  const std::vector<float>& scales = p.scales;
  std::optional<Tensor>& bias = p.bias;
  const std::optional<Int8Residual>& residual = p.residual;
  const DataType y_type = p.y_type;
  const int32_t x_zero = p.x_zero, y_zero = p.y_zero;
  const float y_scale = p.y_scale;
  const bool fold_zero_point = p.fold_zero_point, padded = p.padded;
  const Shape& src_shape = p.src_shape;
  const memory::dims &pad_l = p.pad_l, &pad_r = p.pad_r;
  const onednn::Int8Activation& activation = p.activation;
  try {
    auto onednn_type = [](DataType t) { return *onednn::ToOneDnn(t); };
    // The input as it comes (channels-last from an int8 convolution before this one), reordered
    // only when the primitive wants another layout.
    const memory::desc src = onednn::DescOf(x);
    const memory::desc w_plain = onednn::PlainDesc(g.w_dims, DataType::kInt8);
    const memory::desc w_any(memory::dims(g.w_dims.begin(), g.w_dims.end()), memory::data_type::s8,
                             memory::format_tag::any);
    const memory::desc bias_desc = bias.has_value()
                                       ? onednn::PlainDesc(Shape{out_channels}, DataType::kFloat32)
                                       : memory::desc();
    const memory::desc src_any(memory::dims(src_shape.begin(), src_shape.end()),
                               onednn_type(x.type), memory::format_tag::any);
    const DataType out_type = residual.has_value() ? residual->y_type : y_type;
    const memory::desc dst_any(memory::dims(g.y_shape.begin(), g.y_shape.end()),
                               onednn_type(out_type), memory::format_tag::any);
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::convolution_direct, src_any, w_any,
                                         bias_desc, dst_any, g.strides, g.dilations, pad_l, pad_r);
    dnnl::primitive_attr attr = onednn::DefaultAttr();
    attr.set_output_scales(out_channels > 1 && w_scale.element_count() > 1 ? 1 << 1 : 0,
                           w_scale.element_count() > 1 ? scales : std::vector<float>{scales[0]});
    const int32_t out_zero = residual.has_value() ? residual->y_zero : y_zero;
    if (out_zero != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {out_zero});
    dnnl::post_ops ops;
    OCTET_RETURN_IF_ERROR(onednn::AppendInt8Activation(activation, y_scale, ops, node));
    if (residual.has_value()) AppendResidual(*residual, y_scale, y_zero, y_type, ops);
    attr.set_post_ops(ops);
    dnnl::convolution_forward::primitive_desc pd(desc, attr, onednn::CpuEngine());
    OCTET_ASSIGN_OR_RETURN(Tensor packed, onednn::ReorderConstant(w, w_plain, pd.weights_desc()));
    // The result stays in the primitive's layout (channels-last for oneDNN's int8 kernels) for the
    // next int8 op; the plan reorders it for ops that need it plain.
    const TensorDesc y_desc = onednn::LayoutOf(pd.dst_desc(), g.y_shape, out_type);
    if (residual.has_value() &&
        (onednn::DescOf(y_desc) != pd.dst_desc() || !(y_desc == residual->desc))) {
      // The residual is summed in the primitive's own dst layout, in place.
      return absl::UnimplementedError(
          absl::StrCat(node.Describe(), ": the residual cannot be added in place"));
    }
    BuiltKernel built;
    built.kernel = onednn::MakeConvKernel(pd, src, bias_desc, onednn::DescOf(y_desc),
                                          std::move(packed), node.Describe(), std::move(bias),
                                          residual.has_value() ? kInt8ConvSumInput : -1,
                                          std::move(p.explicit_padding));
    built.outputs.push_back(y_desc);
    built.notes = absl::StrCat(
        DataTypeName(x.type), " source zero point ", x_zero,
        !fold_zero_point ? ""
        : padded ? " (folded into the bias; padded with the zero point before the convolution)"
                 : " (folded into the bias: no padding)",
        ", s8 weights ", w_scale.element_count() > 1 ? "per channel" : "per tensor", ", ",
        DataTypeName(y_type), " destination zero point ", y_zero,
        activation.kind.empty() ? std::string() : absl::StrCat(", fused ", activation.kind),
        residual.has_value() ? absl::StrCat(", residual Int8Add fused (sum post-op in place, ",
                                            DataTypeName(residual->y_type), " result zero point ",
                                            residual->y_zero, residual->relu ? ", then Relu)" : ")")
                             : std::string());
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

// A 2-D Int8Conv of one group on Octet's exact AVX2 product (cpu/int8_gemm.h): the output pixels
// as rows, each pixel's receptive field (kernel taps x input channels) as K. Where oneDNN's AVX2
// kernels would saturate on 8-bit weights; activations it applies in output units only; a
// residual Add fused in place when it has the result's type.
absl::Status OctetDenseConvApplies(const KernelBuildContext& context) {
  OCTET_RETURN_IF_ERROR(onednn::OctetInt8ProductApplies(context));
  const Tensor& w = *context.constant(3);
  OCTET_ASSIGN_OR_RETURN(const int64_t group, context.node.GetInt("group", 1));
  if (w.rank() != 4 || group != 1) {
    return absl::FailedPreconditionError("runs 2-D convolutions of one group");
  }
  if (w.dim(1) * w.dim(2) * w.dim(3) > cpu::kInt8GemmMaxK) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sums at most ", cpu::kInt8GemmMaxK, " products per output (channels x kernel taps)"));
  }
  return absl::OkStatus();
}

// Octet's exact Winograd F(2x2, 3x3) (cpu/int8_winograd.h) ahead of oneDNN on AVX2 without VNNI
// whatever the weights' bits, where it is faster than oneDNN's 7-bit direct kernel too: 3x3
// convolutions of stride 1 with 128 to 1,024 input and 128 or more output channels, on even
// outputs of 14 x 14 or more (no partial tiles). In build/bench/octet_int8_conv_bench on AMD Zen 3,
// ResNet-18's 128- and 256-channel layers ran 1.1-1.6x faster than oneDNN's 7-bit kernel at
// batch 1 to 32, its 64-channel ones and the 7 x 7 512-channel one 0.8-1.0x (left to oneDNN).
absl::Status OctetWinogradConvApplies(const KernelBuildContext& context) {
  OCTET_RETURN_IF_ERROR(OctetDenseConvApplies(context));
  const Tensor& w = *context.constant(3);
  const TensorDesc& x = context.input(0);
  if (x.shape.size() != 4 || w.dim(2) != 3 || w.dim(3) != 3 || w.dim(0) < 128 || w.dim(1) < 128 ||
      w.dim(1) > cpu::kInt8WinogradMaxChannels) {
    return absl::FailedPreconditionError(absl::StrCat("runs 3x3 convolutions of 128 to ",
                                                      cpu::kInt8WinogradMaxChannels,
                                                      " input and 128 or more output channels"));
  }
  OCTET_ASSIGN_OR_RETURN(const ConvGeometry g,
                         onednn::ComputeGeometry(context.node, x.shape, w.shape()));
  if (g.strides[0] != 1 || g.strides[1] != 1 || g.dilations[0] != 0 || g.dilations[1] != 0) {
    return absl::FailedPreconditionError("runs convolutions of stride 1, undilated");
  }
  const int64_t out_h = g.y_shape[2], out_w = g.y_shape[3];
  if (out_h % 2 != 0 || out_w % 2 != 0 || out_h * out_w < 14 * 14) {
    return absl::FailedPreconditionError("runs even outputs of 14 x 14 or more");
  }
  return absl::OkStatus();
}

absl::StatusOr<BuiltKernel> BuildOctetDenseConv(const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(Int8ConvParams p, ReadInt8Conv(context));
  if (p.residual.has_value() && p.residual->y_type != p.y_type) {
    return absl::UnimplementedError(absl::StrCat(
        context.node.Describe(), ": Octet's kernels add a residual of the result's own type"));
  }
  const TensorDesc& x = context.input(0);
  const Tensor& w = *context.constant(3);
  if (x.shape.size() != 4 || (!x.plain() && !x.channels_last)) {
    return absl::InternalError(
        absl::StrCat(context.node.Describe(), ": a 2-D source, plain or channels-last"));
  }
  const int64_t out_channels = w.dim(0), in_channels = w.dim(1);
  const int64_t kernel_h = w.dim(2), kernel_w = w.dim(3);
  const int64_t taps = kernel_h * kernel_w;
  cpu::Int8GemmSpec spec;
  spec.k = taps * in_channels;
  spec.n = out_channels;
  spec.a_type = x.type;
  // ONNX's [O, C, KH, KW] to the product's [(ky, kx, c), O].
  spec.weights.resize(spec.k * out_channels);
  for (int64_t o = 0; o < out_channels; ++o) {
    for (int64_t c = 0; c < in_channels; ++c) {
      for (int64_t t = 0; t < taps; ++t) {
        spec.weights[(t * in_channels + c) * out_channels + o] =
            w.data<int8_t>()[(o * in_channels + c) * taps + t];
      }
    }
  }
  spec.scales = p.scales;
  // The bias alone, not ReadInt8Conv's (which has the zero point's term folded in, in float).
  onednn::SetInt8GemmZeroPointAndBias(context, p.activation, p.y_scale, out_channels, &spec);
  onednn::SetInt8GemmActivation(p.activation, p.y_scale, &spec);
  spec.y_type = p.y_type;
  spec.y_zero = p.y_zero;
  if (p.residual.has_value()) {
    // The residual Add in its units, over the residual's buffer (as AppendResidual has oneDNN
    // do): (q - y_zero) y_scale / s + (r - z_r) s_r / s, Relu, then the Add's zero point.
    const Int8Residual& r = *p.residual;
    cpu::Int8GemmSpec::Residual fused;
    fused.scale = p.y_scale / r.y_scale;
    fused.residual_scale = r.scale / r.y_scale;
    fused.zero = r.zero;
    fused.y_zero = r.y_zero;
    fused.relu = r.relu;
    spec.residual = fused;
  }
  const ConvGeometry& g = p.g;
  const bool pointwise = taps == 1 && g.strides[0] == 1 && g.strides[1] == 1 && !p.padded;
  if (!pointwise) {
    cpu::Int8GemmSpec::Convolution c;
    SetWindow(g, x.shape, w, &c);
    c.channels = in_channels;
    // Padding reads as the zero point, which the kernel subtracts: real 0 at the borders.
    c.pad = static_cast<uint8_t>(p.x_zero);
    spec.convolution = c;
  }
  const int64_t pixels = x.shape[2] * x.shape[3];
  if (x.plain() && pixels > 1) spec.pixels = pixels;
  spec.rows = x.shape[0] * pixels;
  // 3x3 of stride 1 by Winograd's F(2x2, 3x3), exact too, where its 2.25 times fewer
  // multiplications outweigh the transforms.
  const bool winograd = cpu::Int8WinogradApplies(spec).ok() && cpu::Int8WinogradFaster(spec);
  BuiltKernel built;
  OCTET_ASSIGN_OR_RETURN(built.kernel, winograd ? cpu::MakeInt8WinogradKernel(std::move(spec))
                                                : cpu::MakeInt8GemmKernel(std::move(spec)));
  TensorDesc y_desc{p.y_type, g.y_shape};
  y_desc.channels_last = true;
  built.outputs.push_back(y_desc);
  built.notes = absl::StrCat(
      kernel_h, "x", kernel_w,
      winograd    ? " by Winograd F(2x2, 3x3) (exact: int16 transforms, wrapping int32 sums)"
      : pointwise ? ""
                  : " (receptive fields read in place from a widened copy)",
      ", ", DataTypeName(x.type), " source zero point ", p.x_zero,
      p.x_zero == 0 ? ""
      : p.padded    ? " (subtracted in the int32 sums; padded with the zero point)"
                    : " (subtracted in the int32 sums)",
      x.plain() && pixels > 1 ? ", plain source read through a channels-last copy" : "",
      ", s8 weights (exact at 8 bits: int32 sums of 16-bit products, VPMADDWD), ",
      DataTypeName(p.y_type), " destination zero point ", p.y_zero,
      p.activation.kind.empty() ? std::string() : absl::StrCat(", fused ", p.activation.kind),
      p.residual.has_value()
          ? absl::StrCat(", residual Int8Add fused (in place, ", DataTypeName(p.residual->y_type),
                         " result zero point ", p.residual->y_zero,
                         p.residual->relu ? ", then Relu)" : ")")
          : std::string());
  return built;
}

}  // namespace

std::vector<OpDefinition> Int8ConvOps() {
  OpDefinition int8_conv{"Int8Conv", CheckInt8Conv, nullptr};
  int8_conv.domain = kOctetDomain;
  int8_conv.takes_blocked = AnyLayout;  // the weights are constants, always plain
  int8_conv.sum_input = kInt8ConvSumInput;
  int8_conv.sum_op = "Int8Add";
  int8_conv.implementations = {
      {"octet:int8 depthwise", OctetDepthwiseApplies, BuildOctetDepthwiseConv},
      {"octet:int8 winograd avx2 (vpmaddwd)", OctetWinogradConvApplies, BuildOctetDenseConv},
      {"onednn", onednn::OneDnnInt8ProductExact, BuildOneDnnInt8Conv},
      {"octet:int8 conv avx2 (vpmaddwd)", OctetDenseConvApplies, BuildOctetDenseConv}};
  return {int8_conv};
}

}  // namespace octet
