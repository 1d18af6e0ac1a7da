// ONNX Conv (1D to 3D, groups, strides, dilations, pads, auto_pad) on oneDNN's convolution.
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/op_families.h"
#include "engine/runtime/onednn/onednn_common.h"

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
    return absl::InvalidArgumentError(absl::StrCat(
        node.Describe(), ": strides, dilations and pads must match the ", spatial_rank,
        " spatial dimensions"));
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

// Runs the convolution in the activation layouts oneDNN prefers (blocked, for its fastest
// kernels): the plain input is reordered in, the result reordered out. The blocked buffers and
// every primitive's scratchpad live in the workspace scratchpad, one after another:
// [shared scratch | blocked src | blocked dst].
class ConvKernel final : public onednn::PrimitiveKernel {
 public:
  ConvKernel(const dnnl::convolution_forward::primitive_desc& pd, memory::desc src,
             memory::desc bias, memory::desc dst, std::optional<Tensor> packed_weights,
             std::string what)
      : PrimitiveKernel(dnnl::convolution_forward(pd), pd, std::move(what)),
        src_(src),
        src_inner_(pd.src_desc()),
        weights_(pd.weights_desc()),
        bias_(bias),
        dst_(dst),
        dst_inner_(pd.dst_desc()),
        packed_weights_(std::move(packed_weights)) {
    size_t shared = PrimitiveKernel::scratchpad_bytes();
    auto make_reorder = [&shared](const memory::desc& from, const memory::desc& to) {
      const dnnl::reorder::primitive_desc pd(onednn::CpuEngine(), from, onednn::CpuEngine(), to,
                                             onednn::DefaultAttr());
      shared = std::max(shared, pd.scratchpad_desc().get_size());
      return dnnl::reorder(pd);
    };
    if (src_inner_ != src_) src_reorder_ = make_reorder(src_, src_inner_);
    if (dst_inner_ != dst_) dst_reorder_ = make_reorder(dst_inner_, dst_);
    src_offset_ = Align(shared);
    dst_offset_ = Align(src_offset_ + (src_reorder_ ? src_inner_.get_size() : 0));
    total_ = dst_offset_ + (dst_reorder_ ? dst_inner_.get_size() : 0);
  }

  size_t scratchpad_bytes() const override { return total_; }

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    char* scratch = static_cast<char*>(context.scratchpad);
    const memory::desc shared_desc = onednn::PlainDesc(
        Shape{static_cast<int64_t>(std::max<size_t>(src_offset_, 1))}, DataType::kUint8);
    memory src = onednn::Wrap(src_, *inputs[0]);
    memory dst = onednn::Wrap(dst_, *outputs[0]);
    try {
      if (src_reorder_) {
        memory inner(src_inner_, onednn::CpuEngine(), scratch + src_offset_);
        src_reorder_->execute(*context.onednn_stream,
                              {{DNNL_ARG_FROM, src},
                               {DNNL_ARG_TO, inner},
                               {DNNL_ARG_SCRATCHPAD,
                                memory(shared_desc, onednn::CpuEngine(), scratch)}});
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
    if (inputs.size() > 2 && inputs[2] != nullptr) {
      args.emplace(DNNL_ARG_BIAS, onednn::Wrap(bias_, *inputs[2]));
    }
    OCTET_RETURN_IF_ERROR(Execute(std::move(args), context));
    if (dst_reorder_) {
      try {
        dst_reorder_->execute(*context.onednn_stream,
                              {{DNNL_ARG_FROM, dst},
                               {DNNL_ARG_TO, onednn::Wrap(dst_, *outputs[0])},
                               {DNNL_ARG_SCRATCHPAD,
                                memory(shared_desc, onednn::CpuEngine(), scratch)}});
      } catch (const dnnl::error& e) {
        return onednn::ToStatus(e, "reordering a Conv output");
      }
    }
    return absl::OkStatus();
  }

 private:
  static size_t Align(size_t bytes) { return (bytes + 63) / 64 * 64; }

  memory::desc src_, src_inner_, weights_, bias_, dst_, dst_inner_;
  std::optional<Tensor> packed_weights_;
  std::optional<dnnl::reorder> src_reorder_, dst_reorder_;
  size_t src_offset_ = 0, dst_offset_ = 0, total_ = 0;
};

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

absl::StatusOr<BuiltKernel> BuildConv(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const TensorDesc& w = context.input(1);
  if (x.type != DataType::kFloat32 || w.type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(node.Describe(), ": float Conv needs float32 X and W"));
  }
  if (x.shape.size() < 3 || x.shape.size() > 5 || w.shape.size() != x.shape.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        node.Describe(), ": X ", ShapeToString(x.shape), " and W ", ShapeToString(w.shape),
        " must both have rank 3 to 5"));
  }
  const size_t spatial = x.shape.size() - 2;
  OCTET_ASSIGN_OR_RETURN(ConvAttributes a, ReadAttributes(node, spatial));
  const int64_t channels = x.shape[1], out_channels = w.shape[0];
  if (channels % a.group != 0 || out_channels % a.group != 0 || w.shape[1] * a.group != channels) {
    return absl::InvalidArgumentError(absl::StrCat(
        node.Describe(), ": X has ", channels, " channels, W ", ShapeToString(w.shape),
        " and group ", a.group, " do not fit"));
  }
  if (context.has_input(2)) {
    const TensorDesc& b = context.input(2);
    if (b.type != DataType::kFloat32 || b.shape != Shape{out_channels}) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": bias must be float32 [",
                                                     out_channels, "]"));
    }
  }
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> kernel_shape,
                         node.GetInts("kernel_shape", Shape(w.shape.begin() + 2, w.shape.end())));
  if (kernel_shape != Shape(w.shape.begin() + 2, w.shape.end())) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": kernel_shape disagrees with W ", ShapeToString(w.shape)));
  }

  Shape y_shape = {x.shape[0], out_channels};
  memory::dims strides, dilations, pad_l, pad_r;
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t in = x.shape[2 + i];
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
      return absl::InvalidArgumentError(absl::StrCat(
          node.Describe(), ": input ", ShapeToString(x.shape), " is smaller than the kernel"));
    }
    y_shape.push_back(out);
    strides.push_back(a.strides[i]);
    dilations.push_back(a.dilations[i] - 1);  // oneDNN counts the gaps, ONNX the step.
    pad_l.push_back(begin);
    pad_r.push_back(end);
  }

  try {
    const memory::desc src = onednn::PlainDesc(x.shape, DataType::kFloat32);
    const memory::desc dst = onednn::PlainDesc(y_shape, DataType::kFloat32);
    Shape w_dims = w.shape;
    if (a.group > 1) {
      w_dims.insert(w_dims.begin(), a.group);
      w_dims[1] /= a.group;
    }
    const memory::desc w_plain = onednn::PlainDesc(w_dims, DataType::kFloat32);
    const Tensor* w_constant = context.constant(1);
    // Constant weights go into whatever layout the primitive prefers, once; weights that arrive
    // as inputs are read in place.
    const memory::desc w_query =
        w_constant != nullptr
            ? memory::desc(memory::dims(w_dims.begin(), w_dims.end()), memory::data_type::f32,
                           memory::format_tag::any)
            : w_plain;
    const memory::desc bias = context.has_input(2)
                                  ? onednn::PlainDesc(Shape{out_channels}, DataType::kFloat32)
                                  : memory::desc();
    // Activations in whatever layout oneDNN's fastest kernel for this shape wants.
    const memory::desc src_any(memory::dims(x.shape.begin(), x.shape.end()),
                               memory::data_type::f32, memory::format_tag::any);
    const memory::desc dst_any(memory::dims(y_shape.begin(), y_shape.end()),
                               memory::data_type::f32, memory::format_tag::any);
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::convolution_direct, src_any, w_query,
                                         bias, dst_any, strides, dilations, pad_l, pad_r);
    dnnl::primitive_attr attr = onednn::DefaultAttr();
    if (context.activation.has_value()) {
      dnnl::post_ops ops;
      onednn::AppendActivation(*context.activation, ops);
      attr.set_post_ops(ops);
    }
    dnnl::convolution_forward::primitive_desc pd(desc, attr, onednn::CpuEngine());
    std::optional<Tensor> packed;
    if (w_constant != nullptr) {
      OCTET_ASSIGN_OR_RETURN(packed,
                             onednn::ReorderConstant(*w_constant, w_plain, pd.weights_desc()));
    }
    BuiltKernel built;
    built.kernel =
        std::make_unique<ConvKernel>(pd, src, bias, dst, std::move(packed), node.Describe());
    built.outputs.push_back({DataType::kFloat32, y_shape});
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

}  // namespace

std::vector<OpDefinition> ConvOps() {
  return {{"Conv", CheckConv, BuildConv, 0, /*fuses_activation=*/true}};
}

}  // namespace octet
