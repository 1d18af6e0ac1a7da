// ONNX ConvTranspose (1-D to 3-D, groups, strides, dilations, pads, auto_pad, output_padding,
// output_shape) on oneDNN's deconvolution primitive.
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/onednn/onednn_common.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

using dnnl::memory;

class DeconvolutionKernel final : public onednn::PrimitiveKernel {
 public:
  DeconvolutionKernel(const dnnl::deconvolution_forward::primitive_desc& pd, memory::desc weights,
                      memory::desc bias, std::optional<Tensor> packed, std::string what)
      : PrimitiveKernel(dnnl::deconvolution_forward(pd), pd, std::move(what)),
        src_(pd.src_desc()),
        weights_(std::move(weights)),
        bias_(std::move(bias)),
        dst_(pd.dst_desc()),
        packed_(std::move(packed)) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, onednn::Wrap(src_, *inputs[0])},
        {DNNL_ARG_WEIGHTS, onednn::Wrap(weights_, packed_.has_value() ? *packed_ : *inputs[1])},
        {DNNL_ARG_DST, onednn::Wrap(dst_, *outputs[0])},
    };
    if (inputs.size() > 2 && inputs[2] != nullptr) {
      args.emplace(DNNL_ARG_BIAS, onednn::Wrap(bias_, *inputs[2]));
    }
    return Execute(std::move(args), context);
  }

 private:
  memory::desc src_, weights_, bias_, dst_;
  std::optional<Tensor> packed_;
};

absl::Status CheckConvTranspose(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 2, 3, 2));
  for (size_t i = 0; i < 3; ++i) {
    OCTET_RETURN_IF_ERROR(RequireInputType(context, i, {DataType::kFloat32}));
  }
  return absl::OkStatus();
}

// The output shape and oneDNN's paddings and dilations of a ConvTranspose node.
struct DeconvGeometry {
  int64_t group = 1;
  Shape y;
  std::vector<int64_t> strides;
  memory::dims pad_l, pad_r, dilations;
};

absl::StatusOr<DeconvGeometry> ReadDeconvGeometry(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const TensorDesc& w = context.input(1);
  const size_t spatial = x.shape.size() - 2;
  const std::vector<int64_t> ones(spatial, 1), zeros(spatial, 0);
  OCTET_ASSIGN_OR_RETURN(int64_t group, node.GetInt("group", 1));
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> strides, node.GetInts("strides", ones));
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> dilations, node.GetInts("dilations", ones));
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> output_padding,
                         node.GetInts("output_padding", zeros));
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> pads,
                         node.GetInts("pads", std::vector<int64_t>(2 * spatial, 0)));
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> output_shape, node.GetInts("output_shape", {}));
  OCTET_ASSIGN_OR_RETURN(std::string auto_pad, node.GetString("auto_pad", "NOTSET"));
  const int64_t in_channels = x.shape[1];
  if (group < 1 || w.shape[0] != in_channels || in_channels % group != 0 ||
      strides.size() != spatial || dilations.size() != spatial ||
      output_padding.size() != spatial || pads.size() != 2 * spatial ||
      (!output_shape.empty() && output_shape.size() != spatial)) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": X ", ShapeToString(x.shape),
                                                   ", W ", ShapeToString(w.shape),
                                                   " and the attributes do not fit"));
  }
  const int64_t out_channels = w.shape[1] * group;
  if (context.has_input(2) && context.input(2).shape != Shape{out_channels}) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": bias must be [", out_channels, "]"));
  }
  DeconvGeometry g;
  g.group = group;
  g.strides = strides;
  g.y = {x.shape[0], out_channels};
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t in = x.shape[2 + i];
    const int64_t extent = (w.shape[2 + i] - 1) * dilations[i] + 1;
    const int64_t full = strides[i] * (in - 1) + output_padding[i] + extent;
    int64_t begin = pads[i], end = pads[i + spatial], out;
    if (!output_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      out = !output_shape.empty() ? output_shape[i] : in * strides[i];
      const int64_t total = full - out;
      const bool upper = auto_pad != "SAME_LOWER";
      begin = upper ? total / 2 : total - total / 2;
      end = total - begin;
    } else if (auto_pad == "VALID") {
      begin = end = 0;
      out = full;
    } else {
      out = full - begin - end;
    }
    if (out < 1) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": empty output"));
    }
    g.y.push_back(out);
    g.pad_l.push_back(begin);
    // oneDNN's size rule has no output_padding: it is right padding taken back.
    g.pad_r.push_back(end - output_padding[i]);
    g.dilations.push_back(dilations[i] - 1);
  }
  return g;
}

// ONNX lays W out as [C_in, C_out / group, k...]; oneDNN indexes [g, C_out/g, C_in/g, k...]
// (without g when ungrouped): the plain weights as oneDNN reads them, by strides.
memory::desc OnnxDeconvWeights(const Shape& w, int64_t group) {
  const int64_t in_per_group = w[0] / group, out_per_group = w[1];
  int64_t kernel_size = 1;
  for (size_t i = 2; i < w.size(); ++i) kernel_size *= w[i];
  memory::dims dims = {group, out_per_group, in_per_group};
  memory::dims strides_w = {in_per_group * out_per_group * kernel_size, kernel_size,
                            out_per_group * kernel_size};
  int64_t step = kernel_size;
  for (size_t i = 2; i < w.size(); ++i) {
    dims.push_back(w[i]);
    step /= w[i];
    strides_w.push_back(step);
  }
  if (group == 1) {
    dims.erase(dims.begin());
    strides_w.erase(strides_w.begin());
  }
  return memory::desc(dims, memory::data_type::f32, strides_w);
}

absl::StatusOr<BuiltKernel> BuildConvTranspose(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const TensorDesc& w = context.input(1);
  if (x.type != DataType::kFloat32 || w.type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(node.Describe(), ": float32"));
  }
  if (x.shape.size() < 3 || x.shape.size() > 5 || w.shape.size() != x.shape.size()) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": X ", ShapeToString(x.shape),
                                                   " and W ", ShapeToString(w.shape),
                                                   " must both have rank 3 to 5"));
  }
  OCTET_ASSIGN_OR_RETURN(const DeconvGeometry g, ReadDeconvGeometry(context));
  const int64_t out_channels = g.y[1];
  try {
    const memory::desc w_plain = OnnxDeconvWeights(w.shape, g.group);
    const Tensor* w_constant = context.constant(1);
    const memory::desc w_query =
        w_constant != nullptr
            ? memory::desc(w_plain.dims(), memory::data_type::f32, memory::format_tag::any)
            : w_plain;
    const memory::desc src = onednn::PlainDesc(x.shape, DataType::kFloat32);
    const memory::desc dst = onednn::PlainDesc(g.y, DataType::kFloat32);
    const memory::desc bias = context.has_input(2)
                                  ? onednn::PlainDesc(Shape{out_channels}, DataType::kFloat32)
                                  : memory::desc();
    dnnl::deconvolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct, src, w_query,
        bias, dst, memory::dims(g.strides.begin(), g.strides.end()), g.dilations, g.pad_l, g.pad_r);
    dnnl::deconvolution_forward::primitive_desc pd(desc, onednn::DefaultAttr(),
                                                   onednn::CpuEngine());
    std::optional<Tensor> packed;
    if (w_constant != nullptr) {
      OCTET_ASSIGN_OR_RETURN(packed,
                             onednn::ReorderConstant(*w_constant, w_plain, pd.weights_desc()));
    }
    BuiltKernel built;
    built.kernel = std::make_unique<DeconvolutionKernel>(
        pd, w_constant != nullptr ? pd.weights_desc() : w_plain, bias, std::move(packed),
        node.Describe());
    built.outputs.push_back({DataType::kFloat32, g.y});
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

}  // namespace

std::vector<OpDefinition> ConvTransposeOps() {
  return {{"ConvTranspose", CheckConvTranspose, BuildConvTranspose}};
}

}  // namespace octet
