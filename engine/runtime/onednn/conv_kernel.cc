// ONNX Conv (1D to 3D, groups, strides, dilations, pads, auto_pad) on oneDNN's convolution.
#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/cpu/int8_depthwise_conv.h"
#include "engine/runtime/onednn/onednn_common.h"
#include "engine/runtime/onednn/winograd_conv.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

using dnnl::memory;

struct ConvAttributes {
  std::vector<int64_t> strides, dilations, pads_begin, pads_end;
  int64_t group = 1;
  std::string auto_pad;
};

absl::StatusOr<ConvAttributes> ReadAttributes(const Node& node, size_t spatial_rank) {
  ConvAttributes a;
  OCTET_ASSIGN_OR_RETURN(a.strides, node.GetInts("strides", std::vector<int64_t>(spatial_rank, 1)));
  OCTET_ASSIGN_OR_RETURN(a.dilations,
                         node.GetInts("dilations", std::vector<int64_t>(spatial_rank, 1)));
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> pads,
                         node.GetInts("pads", std::vector<int64_t>(2 * spatial_rank, 0)));
  OCTET_ASSIGN_OR_RETURN(a.group, node.GetInt("group", 1));
  OCTET_ASSIGN_OR_RETURN(a.auto_pad, node.GetString("auto_pad", "NOTSET"));
  if (a.strides.size() != spatial_rank || a.dilations.size() != spatial_rank ||
      pads.size() != 2 * spatial_rank) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(),
                                                   ": strides, dilations and pads must match the ",
                                                   spatial_rank, " spatial dimensions"));
  }
  for (size_t i = 0; i < spatial_rank; ++i) {
    if (a.strides[i] < 1 || a.dilations[i] < 1 || pads[i] < 0 || pads[i + spatial_rank] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          node.Describe(), ": strides and dilations must be positive and pads non-negative"));
    }
  }
  a.pads_begin.assign(pads.begin(), pads.begin() + spatial_rank);
  a.pads_end.assign(pads.begin() + spatial_rank, pads.end());
  return a;
}

// A source padded by the kernel itself rather than by oneDNN: an int8 source with a zero point
// other than 0 is padded with that zero point (real value 0, as ONNX pads), so that oneDNN runs
// without zero points (which its fast kernels lack for padded shapes).
struct ExplicitPadding {
  Shape inner;         // the unpadded source dims
  memory::dims begin;  // padding before each spatial dim
  uint8_t fill = 0;    // the zero point's byte
  DataType type = DataType::kUint8;
};

// Runs the convolution in the activation layouts oneDNN prefers (blocked, for its fastest
// kernels): the plain input is reordered in, the result reordered out. The blocked buffers and
// every primitive's scratchpad live in the workspace scratchpad, one after another:
// [shared scratch | blocked src | blocked dst].
class ConvKernel final : public onednn::PrimitiveKernel {
 public:
  // `packed_bias`, when set, is the bias (instead of input 2): int8 convolutions take theirs in
  // accumulator units, computed once.
  // `sum_input`, when not negative, is the input the result is added to (a fused residual Add):
  // the plan places the output in that input's buffer; when it did not, Run copies it there.
  ConvKernel(const dnnl::convolution_forward::primitive_desc& pd, memory::desc src,
             memory::desc bias, memory::desc dst, std::optional<Tensor> packed_weights,
             std::string what, std::optional<Tensor> packed_bias = std::nullopt, int sum_input = -1,
             std::optional<ExplicitPadding> padding = std::nullopt)
      : PrimitiveKernel(dnnl::convolution_forward(pd), pd, std::move(what)),
        sum_input_(sum_input),
        padding_(std::move(padding)),
        src_(src),
        src_inner_(pd.src_desc()),
        weights_(pd.weights_desc()),
        bias_(bias),
        dst_(dst),
        dst_inner_(pd.dst_desc()),
        packed_weights_(std::move(packed_weights)),
        packed_bias_(std::move(packed_bias)) {
    size_t shared = PrimitiveKernel::scratchpad_bytes();
    if (padding_.has_value()) {
      // The source is reordered into the middle of the padded buffer, whose border Run fills.
      memory::dims offsets(src_inner_.dims().size(), 0);
      std::copy(padding_->begin.begin(), padding_->begin.end(), offsets.begin() + 2);
      interior_ = src_inner_.submemory_desc(
          memory::dims(padding_->inner.begin(), padding_->inner.end()), offsets);
      src_reorder_ = onednn::MakeReorder(src_, interior_, &shared);
      const memory::dims padded = src_inner_.dims();
      padded_channels_last_ =
          onednn::LayoutOf(src_inner_, Shape(padded.begin(), padded.end()), padding_->type)
              .channels_last;
      padding_reorders_ = onednn::LayoutOf(src_, padding_->inner, padding_->type).channels_last !=
                          padded_channels_last_;
    } else if (src_inner_ != src_) {
      src_reorder_ = onednn::MakeReorder(src_, src_inner_, &shared);
    }
    if (dst_inner_ != dst_) dst_reorder_ = onednn::MakeReorder(dst_inner_, dst_, &shared);
    src_offset_ = onednn::AlignScratchpad(shared);
    dst_offset_ = onednn::AlignScratchpad(src_offset_ + (src_reorder_ ? src_inner_.get_size() : 0));
    total_ = dst_offset_ + (dst_reorder_ ? dst_inner_.get_size() : 0);
  }

  size_t scratchpad_bytes() const override { return total_; }
  std::string implementation() const override {
    std::string name = PrimitiveKernel::implementation();
    if (padding_.has_value()) {
      name += padding_reorders_ ? " (+ input reorder, padded with the zero point)"
                                : " (+ padding with the zero point)";
    } else if (src_reorder_) {
      name += " (+ input reorder)";
    }
    if (dst_reorder_) name += " (+ output reorder)";
    return name;
  }

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    char* scratch = static_cast<char*>(context.scratchpad);
    const memory::desc shared_desc = onednn::PlainDesc(
        Shape{static_cast<int64_t>(std::max<size_t>(src_offset_, 1))}, DataType::kUint8);
    memory src = onednn::Wrap(src_, *inputs[0]);
    memory dst = onednn::Wrap(dst_, *outputs[0]);
    if (sum_input_ >= 0 && inputs[sum_input_]->raw_data() != outputs[0]->raw_data()) {
      // Same desc as the output (the plan checked), so the same bytes.
      std::memcpy(outputs[0]->raw_data(), inputs[sum_input_]->raw_data(), dst_.get_size());
    }
    try {
      if (src_reorder_) {
        memory inner(src_inner_, onednn::CpuEngine(), scratch + src_offset_);
        if (padding_.has_value()) FillBorder(scratch + src_offset_);
        src_reorder_->execute(
            onednn::ThreadStream(),
            {{DNNL_ARG_FROM, src},
             {DNNL_ARG_TO, padding_.has_value()
                               ? memory(interior_, onednn::CpuEngine(), scratch + src_offset_)
                               : inner},
             {DNNL_ARG_SCRATCHPAD, memory(shared_desc, onednn::CpuEngine(), scratch)}});
        src = inner;
      }
      if (dst_reorder_) dst = memory(dst_inner_, onednn::CpuEngine(), scratch + dst_offset_);
    } catch (const dnnl::error& e) {
      return onednn::ToStatus(e, "reordering a Conv input");
    }
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, src},
        {DNNL_ARG_WEIGHTS,
         onednn::Wrap(weights_, packed_weights_.has_value() ? *packed_weights_ : *inputs[1])},
        {DNNL_ARG_DST, dst},
    };
    if (packed_bias_.has_value()) {
      args.emplace(DNNL_ARG_BIAS, onednn::Wrap(bias_, *packed_bias_));
    } else if (inputs.size() > 2 && inputs[2] != nullptr) {
      args.emplace(DNNL_ARG_BIAS, onednn::Wrap(bias_, *inputs[2]));
    }
    OCTET_RETURN_IF_ERROR(Execute(std::move(args), context));
    if (dst_reorder_) {
      try {
        dst_reorder_->execute(
            onednn::ThreadStream(),
            {{DNNL_ARG_FROM, dst},
             {DNNL_ARG_TO, onednn::Wrap(dst_, *outputs[0])},
             {DNNL_ARG_SCRATCHPAD, memory(shared_desc, onednn::CpuEngine(), scratch)}});
      } catch (const dnnl::error& e) {
        return onednn::ToStatus(e, "reordering a Conv output");
      }
    }
    return absl::OkStatus();
  }

 private:
  // Writes the padding value around where the source goes in the padded buffer: in channels-last
  // order only the border (whole rows above and below, the ends of the rows between); in any
  // other layout the whole buffer, which the source then overwrites.
  void FillBorder(char* buffer) const {
    const memory::dims dims = src_inner_.dims();
    if (!padded_channels_last_) {
      std::memset(buffer, padding_->fill, src_inner_.get_size());
      return;
    }
    // Channels-last: [N][S1]..[Sk][C] bytes; a row is the innermost spatial dim times C.
    const size_t rank = dims.size();
    const int64_t channels = dims[1];
    const int64_t row_bytes = dims[rank - 1] * channels;
    const int64_t before = padding_->begin.back() * channels;
    const int64_t inner_bytes = padding_->inner.back() * channels;
    const int64_t after = row_bytes - before - inner_bytes;
    // Walk the rows: index over N and the outer spatial dims S1..S(k-1).
    std::vector<int64_t> index(rank - 2, 0);  // [n, s1, .., s(k-1)]
    std::vector<int64_t> extent = {dims[0]};
    for (size_t d = 2; d + 1 < rank; ++d) extent.push_back(dims[d]);
    char* row = buffer;
    while (true) {
      bool border = false;
      for (size_t d = 1; d < index.size(); ++d) {
        border |= index[d] < padding_->begin[d - 1] ||
                  index[d] >= padding_->begin[d - 1] + padding_->inner[d + 1];
      }
      if (border) {
        std::memset(row, padding_->fill, row_bytes);
      } else {
        std::memset(row, padding_->fill, before);
        std::memset(row + before + inner_bytes, padding_->fill, after);
      }
      row += row_bytes;
      size_t d = index.size();
      while (d > 0 && ++index[d - 1] == extent[d - 1]) index[--d] = 0;
      if (d == 0) break;
    }
  }

  const int sum_input_;
  const std::optional<ExplicitPadding> padding_;
  memory::desc interior_;
  bool padded_channels_last_ = false;
  bool padding_reorders_ = false;  // the source comes in another layout than the padded buffer
  memory::desc src_, src_inner_, weights_, bias_, dst_, dst_inner_;
  std::optional<Tensor> packed_weights_, packed_bias_;
  std::optional<dnnl::reorder> src_reorder_, dst_reorder_;
  size_t src_offset_ = 0, dst_offset_ = 0, total_ = 0;
};

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

// Output shape and oneDNN's strides, dilations and paddings of a Conv node over X and W.
struct ConvGeometry {
  Shape y_shape;
  Shape w_dims;  // with a leading group dim when grouped
  memory::dims strides, dilations, pad_l, pad_r;
  int64_t group = 1;
};

absl::StatusOr<ConvGeometry> ComputeGeometry(const Node& node, const Shape& x, const Shape& w) {
  if (x.size() < 3 || x.size() > 5 || w.size() != x.size()) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": X ", ShapeToString(x),
                                                   " and W ", ShapeToString(w),
                                                   " must both have rank 3 to 5"));
  }
  const size_t spatial = x.size() - 2;
  OCTET_ASSIGN_OR_RETURN(ConvAttributes a, ReadAttributes(node, spatial));
  const int64_t channels = x[1], out_channels = w[0];
  if (channels % a.group != 0 || out_channels % a.group != 0 || w[1] * a.group != channels) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": X has ", channels,
                                                   " channels, W ", ShapeToString(w), " and group ",
                                                   a.group, " do not fit"));
  }
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> kernel_shape,
                         node.GetInts("kernel_shape", Shape(w.begin() + 2, w.end())));
  if (kernel_shape != Shape(w.begin() + 2, w.end())) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": kernel_shape disagrees with W ", ShapeToString(w)));
  }
  ConvGeometry g;
  g.group = a.group;
  g.y_shape = {x[0], out_channels};
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t in = x[2 + i];
    const int64_t extent = (kernel_shape[i] - 1) * a.dilations[i] + 1;
    int64_t begin = a.pads_begin[i], end = a.pads_end[i];
    if (a.auto_pad == "VALID") {
      begin = end = 0;
    } else if (a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER") {
      const int64_t out = (in + a.strides[i] - 1) / a.strides[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * a.strides[i] + extent - in);
      begin = a.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end = total - begin;
    }
    const int64_t out = (in + begin + end - extent) / a.strides[i] + 1;
    if (in + begin + end < extent || out < 1) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": input ", ShapeToString(x),
                                                     " is smaller than the kernel"));
    }
    g.y_shape.push_back(out);
    g.strides.push_back(a.strides[i]);
    g.dilations.push_back(a.dilations[i] - 1);  // oneDNN counts the gaps, ONNX the step.
    g.pad_l.push_back(begin);
    g.pad_r.push_back(end);
  }
  g.w_dims = w;
  if (a.group > 1) {
    g.w_dims.insert(g.w_dims.begin(), a.group);
    g.w_dims[1] /= a.group;
  }
  return g;
}

absl::StatusOr<BuiltKernel> BuildConv(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const TensorDesc& w = context.input(1);
  if (x.type != DataType::kFloat32 || w.type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(node.Describe(), ": float Conv needs float32 X and W"));
  }
  OCTET_ASSIGN_OR_RETURN(ConvGeometry g, ComputeGeometry(node, x.shape, w.shape));
  const int64_t out_channels = w.shape[0];
  if (context.has_input(2)) {
    const TensorDesc& b = context.input(2);
    if (b.type != DataType::kFloat32 || b.shape != Shape{out_channels}) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": bias must be float32 [", out_channels, "]"));
    }
  }
  if (x.shape.size() == 4) {
    const onednn::WinogradConvShape shape{
        x.shape[0],   x.shape[1],   out_channels,       x.shape[2],        x.shape[3],
        g.y_shape[2], g.y_shape[3], g.pad_l[0],         g.pad_l[1],        g.group,
        g.strides[0], g.strides[1], g.dilations[0] + 1, g.dilations[1] + 1};
    if (onednn::WinogradConvApplies(context, shape)) {
      return onednn::BuildWinogradConv(context, shape, context.fuse_sum ? kConvSumInput : -1);
    }
  }
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
    built.kernel = std::make_unique<ConvKernel>(pd, src, bias, dst, std::move(packed),
                                                node.Describe(), std::nullopt, sum_input);
    if (context.fuse_sum) built.notes = "residual Add fused (sum post-op, in place)";
    built.outputs.push_back(y_layout);
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

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
  spec.in_h = x.shape[2];
  spec.in_w = x.shape[3];
  spec.out_h = g.y_shape[2];
  spec.out_w = g.y_shape[3];
  spec.kernel_h = w.dim(2);
  spec.kernel_w = w.dim(3);
  spec.stride_h = g.strides[0];
  spec.stride_w = g.strides[1];
  spec.dilation_h = g.dilations[0] + 1;  // oneDNN's gaps, back to ONNX's steps
  spec.dilation_w = g.dilations[1] + 1;
  spec.pad_top = g.pad_l[0];
  spec.pad_left = g.pad_l[1];
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

// ai.octet.Int8Conv(x_q, x_scale, x_zero_point, w_q, w_scale, y_scale, y_zero_point[, bias]),
// made by LowerQdqToInt8 from DQ -> Conv [-> activation] -> Q: oneDNN's int8 convolution with
// output scales x_scale * w_scale[c] / y_scale, the source and destination zero points, the bias
// in accumulator units, and the activation as a post-op (in real units where it is not
// scale-invariant, then rescaled by 1 / y_scale).
absl::Status CheckInt8Conv(const CheckContext& context) {
  return RequireInputCount(context.node, 7, 8, 7);
}

absl::StatusOr<BuiltKernel> BuildInt8Conv(const KernelBuildContext& context) {
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
  OCTET_ASSIGN_OR_RETURN(ConvGeometry g, ComputeGeometry(node, x.shape, w.shape()));
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
  std::optional<ExplicitPadding> explicit_padding;
  Shape src_shape = x.shape;
  memory::dims pad_l = g.pad_l, pad_r = g.pad_r;
  if (fold_zero_point && padded) {
    // The zero point's byte, u8 or s8 (two's complement).
    explicit_padding = ExplicitPadding{x.shape, g.pad_l, static_cast<uint8_t>(x_zero), x.type};
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
  if (cpu::Int8DepthwiseConvApplies(w.shape(), g.group, activation.kind)) {
    if (residual.has_value()) {
      return absl::UnimplementedError(
          absl::StrCat(node.Describe(), ": Octet's depthwise kernel adds no residual"));
    }
    return BuildInt8DepthwiseConv(context, g, std::move(scales), bias, activation, y_scale);
  }
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
    built.kernel = std::make_unique<ConvKernel>(pd, src, bias_desc, onednn::DescOf(y_desc),
                                                std::move(packed), node.Describe(), std::move(bias),
                                                residual.has_value() ? kInt8ConvSumInput : -1,
                                                std::move(explicit_padding));
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

}  // namespace

std::vector<OpDefinition> ConvOps() {
  OpDefinition int8_conv{"Int8Conv", CheckInt8Conv, BuildInt8Conv};
  int8_conv.domain = kOctetDomain;
  int8_conv.takes_blocked = AnyLayout;  // the weights are constants, always plain
  int8_conv.sum_input = kInt8ConvSumInput;
  int8_conv.sum_op = "Int8Add";
  OpDefinition conv{"Conv", CheckConv, BuildConv, 0, /*fuses_activation=*/true};
  conv.sum_input = kConvSumInput;
  conv.takes_blocked = [](const KernelBuildContext& context) {
    // Weights given as inputs are read plain.
    return !context.has_input(1) || context.input(1).channel_block == 0;
  };
  return {conv, int8_conv};
}

}  // namespace octet
