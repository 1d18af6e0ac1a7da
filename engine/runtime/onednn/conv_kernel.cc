// ONNX Conv (1D to 3D, groups, strides, dilations, pads, auto_pad) in float: Octet's Winograd
// F(2x2, 3x3) where it applies, else oneDNN's direct convolution.
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/cpu/winograd_f2x3.h"
#include "engine/runtime/onednn/conv_common.h"
#include "engine/runtime/onednn/winograd_conv.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

using dnnl::memory;
using onednn::ConvGeometry;

// Where a fused residual Add's other operand arrives (after X, W and the optional B).
constexpr int kConvSumInput = 3;

absl::Status CheckConv(const CheckContext& context) {
  const Node& node = context.node;
  OCTET_RETURN_IF_ERROR(RequireInputCount(node, 2, 3, 2));
  for (size_t i = 0; i < 3; ++i) {
    OCTET_RETURN_IF_ERROR(RequireInputType(context, i, {DataType::kFloat32}));
  }
  OCTET_RETURN_IF_ERROR(CheckAutoPad(node));
  OCTET_ASSIGN_OR_RETURN(int64_t group, node.GetInt("group", 1));
  if (group < 1) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": group must be positive"));
  }
  return absl::OkStatus();
}

// The node's geometry, after checking its types and bias for these shapes.
absl::StatusOr<ConvGeometry> ValidatedGeometry(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const TensorDesc& w = context.input(1);
  if (x.type != DataType::kFloat32 || w.type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(node.Describe(), ": float Conv needs float32 X and W"));
  }
  OCTET_ASSIGN_OR_RETURN(ConvGeometry g, onednn::ComputeGeometry(node, x.shape, w.shape));
  const int64_t out_channels = w.shape[0];
  if (context.has_input(2)) {
    const TensorDesc& b = context.input(2);
    if (b.type != DataType::kFloat32 || b.shape != Shape{out_channels}) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": bias must be float32 [", out_channels, "]"));
    }
  }
  return g;
}

absl::StatusOr<cpu::WinogradConvShape> WinogradShapeOf(const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(const ConvGeometry g, ValidatedGeometry(context));
  const Shape& x = context.input(0).shape;
  if (x.size() != 4) return absl::FailedPreconditionError("2-D convolutions only");
  return cpu::WinogradConvShape{x[0],
                                x[1],
                                context.input(1).shape[0],
                                x[2],
                                x[3],
                                g.y_shape[2],
                                g.y_shape[3],
                                g.pad_l[0],
                                g.pad_l[1],
                                g.group,
                                g.strides[0],
                                g.strides[1],
                                g.dilations[0] + 1,
                                g.dilations[1] + 1};
}

// Octet's fused Winograd kernel up to 128 x 128 channels, Octet's transforms around oneDNN's
// matmul beyond.
absl::Status WinogradFusedApplies(const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(const cpu::WinogradConvShape shape, WinogradShapeOf(context));
  OCTET_RETURN_IF_ERROR(cpu::WinogradApplies(context, shape));
  if (!cpu::WinogradFusedFits(shape)) {
    return absl::FailedPreconditionError("more than 128 x 128 channels");
  }
  return absl::OkStatus();
}

absl::StatusOr<BuiltKernel> BuildWinogradFused(const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(const cpu::WinogradConvShape shape, WinogradShapeOf(context));
  return cpu::BuildWinogradFusedConv(context, shape, context.fuse_sum ? kConvSumInput : -1);
}

absl::Status WinogradMatmulApplies(const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(const cpu::WinogradConvShape shape, WinogradShapeOf(context));
  return cpu::WinogradApplies(context, shape);
}

absl::StatusOr<BuiltKernel> BuildWinogradMatmul(const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(const cpu::WinogradConvShape shape, WinogradShapeOf(context));
  return onednn::BuildWinogradMatmulConv(context, shape, context.fuse_sum ? kConvSumInput : -1);
}

absl::StatusOr<BuiltKernel> BuildDirectConv(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  OCTET_ASSIGN_OR_RETURN(const ConvGeometry g, ValidatedGeometry(context));
  const int64_t out_channels = context.input(1).shape[0];
  const Shape& y_shape = g.y_shape;
  const Shape& w_dims = g.w_dims;
  const memory::dims &strides = g.strides, &dilations = g.dilations, &pad_l = g.pad_l,
                     &pad_r = g.pad_r;

  try {
    const memory::desc src = onednn::DescOf(x);
    memory::desc dst = onednn::PlainDesc(y_shape, DataType::kFloat32);
    const memory::desc w_plain = onednn::PlainDesc(w_dims, DataType::kFloat32);
    const Tensor* w_constant = context.constant(1);
    // Constant weights go into whatever layout the primitive prefers, once; weights that arrive
    // as inputs are read in place.
    const memory::desc w_query = w_constant != nullptr
                                     ? memory::desc(memory::dims(w_dims.begin(), w_dims.end()),
                                                    memory::data_type::f32, memory::format_tag::any)
                                     : w_plain;
    const memory::desc bias = context.has_input(2)
                                  ? onednn::PlainDesc(Shape{out_channels}, DataType::kFloat32)
                                  : memory::desc();
    // Activations in whatever layout oneDNN's fastest kernel for this shape wants.
    const memory::desc src_any(memory::dims(x.shape.begin(), x.shape.end()), memory::data_type::f32,
                               memory::format_tag::any);
    const memory::desc dst_any(memory::dims(y_shape.begin(), y_shape.end()), memory::data_type::f32,
                               memory::format_tag::any);
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::convolution_direct, src_any, w_query,
                                         bias, dst_any, strides, dilations, pad_l, pad_r);
    dnnl::primitive_attr attr = onednn::DefaultAttr();
    if (context.activation.has_value() || context.fuse_sum) {
      dnnl::post_ops ops;
      // dst = activation(conv(src) + dst): the residual is already in dst.
      if (context.fuse_sum) ops.append_sum(1.0f);
      if (context.activation.has_value()) onednn::AppendActivation(*context.activation, ops);
      attr.set_post_ops(ops);
    }
    dnnl::convolution_forward::primitive_desc pd(desc, attr, onednn::CpuEngine());
    std::optional<Tensor> packed;
    if (w_constant != nullptr) {
      OCTET_ASSIGN_OR_RETURN(packed,
                             onednn::ReorderConstant(*w_constant, w_plain, pd.weights_desc()));
    }
    // A channel-blocked or channels-last result (oneDNN's AVX2 kernels write nChw8c, its AVX-512
    // brgconv nhwc) stays so: the next primitive reads it as it is, and the plan reorders it only
    // for ops that need plain tensors.
    const TensorDesc y_layout = onednn::LayoutOf(pd.dst_desc(), y_shape, DataType::kFloat32);
    if (!y_layout.plain()) dst = pd.dst_desc();
    int sum_input = -1;
    if (context.fuse_sum) {
      // The residual must be summed in the primitive's own dst layout, in place.
      if (dst != pd.dst_desc()) {
        return absl::UnimplementedError(
            absl::StrCat(node.Describe(), ": the residual cannot be added in place"));
      }
      sum_input = kConvSumInput;
    }
    BuiltKernel built;
    built.kernel = onednn::MakeConvKernel(pd, src, bias, dst, std::move(packed), node.Describe(),
                                          std::nullopt, sum_input);
    if (context.fuse_sum) built.notes = "residual Add fused (sum post-op, in place)";
    built.outputs.push_back(y_layout);
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

}  // namespace

std::vector<OpDefinition> ConvOps() {
  OpDefinition conv{"Conv", CheckConv, nullptr, 0, /*fuses_activation=*/true};
  conv.sum_input = kConvSumInput;
  conv.takes_blocked = [](const KernelBuildContext& context) {
    // Weights given as inputs are read plain.
    return !context.has_input(1) || context.input(1).channel_block == 0;
  };
  conv.implementations = {
      {"octet:winograd F(2x2,3x3) fused", WinogradFusedApplies, BuildWinogradFused},
      {"octet+onednn:winograd F(2x2,3x3) matmul passes", WinogradMatmulApplies,
       BuildWinogradMatmul},
      {"onednn", nullptr, BuildDirectConv}};
  return {conv};
}

}  // namespace octet
