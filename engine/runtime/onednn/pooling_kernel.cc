// MaxPool, AveragePool (pads, auto_pad, strides, dilations, ceil_mode, count_include_pad),
// GlobalAveragePool and GlobalMaxPool on oneDNN's pooling_v2 primitive, 1-D to 3-D.
#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/onednn/onednn_common.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

using dnnl::memory;

enum class PoolKind { kMax, kAverage, kGlobalMax, kGlobalAverage };

absl::Status CheckPool(const CheckContext& context) {
  const Node& node = context.node;
  OCTET_RETURN_IF_ERROR(RequireInputCount(node, 1, 1, 1));
  OCTET_RETURN_IF_ERROR(RequireInputType(context, 0, {DataType::kFloat32}));
  if (node.outputs.size() > 1 && !node.outputs[1].empty()) {
    return UnsupportedError(UnsupportedKind::kAttribute,
                            absl::StrCat(node.Describe(), ": the Indices output"));
  }
  OCTET_ASSIGN_OR_RETURN(int64_t storage_order, node.GetInt("storage_order", 0));
  if (storage_order != 0) {
    return UnsupportedError(UnsupportedKind::kAttribute,
                            absl::StrCat(node.Describe(), ": storage_order"));
  }
  OCTET_RETURN_IF_ERROR(CheckAutoPad(node));
  return absl::OkStatus();
}

struct PoolGeometry {
  Shape y;
  memory::dims kernel, strides, dilations, pad_l, pad_r;
  dnnl::algorithm algorithm;
  bool pads = false;  // whether any window reaches into padding
};

absl::StatusOr<PoolGeometry> ComputePoolGeometry(const Node& node, const Shape& x, PoolKind kind) {
  if (x.size() < 3 || x.size() > 5) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": input ", ShapeToString(x), " must have rank 3 to 5"));
  }
  const size_t spatial = x.size() - 2;
  const bool global = kind == PoolKind::kGlobalMax || kind == PoolKind::kGlobalAverage;
  std::vector<int64_t> kernel(x.begin() + 2, x.end());
  std::vector<int64_t> strides(spatial, 1), dilations(spatial, 1), pads(2 * spatial, 0);
  int64_t ceil_mode = 0, count_include_pad = 0;
  std::string auto_pad = "NOTSET";
  if (!global) {
    OCTET_ASSIGN_OR_RETURN(kernel, node.GetInts("kernel_shape", {}));
    OCTET_ASSIGN_OR_RETURN(strides, node.GetInts("strides", strides));
    OCTET_ASSIGN_OR_RETURN(dilations, node.GetInts("dilations", dilations));
    OCTET_ASSIGN_OR_RETURN(pads, node.GetInts("pads", pads));
    OCTET_ASSIGN_OR_RETURN(ceil_mode, node.GetInt("ceil_mode", 0));
    OCTET_ASSIGN_OR_RETURN(count_include_pad, node.GetInt("count_include_pad", 0));
    OCTET_ASSIGN_OR_RETURN(auto_pad, node.GetString("auto_pad", "NOTSET"));
  }
  if (kernel.size() != spatial || strides.size() != spatial || dilations.size() != spatial ||
      pads.size() != 2 * spatial) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": kernel_shape, strides, dilations and pads must match the ",
                     spatial, " spatial dimensions"));
  }
  PoolGeometry g;
  g.y = {x[0], x[1]};
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t in = x[2 + i];
    if (kernel[i] < 1 || strides[i] < 1 || dilations[i] < 1 || pads[i] < 0 ||
        pads[i + spatial] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          node.Describe(), ": kernel, strides and dilations must be positive, pads non-negative"));
    }
    const int64_t extent = (kernel[i] - 1) * dilations[i] + 1;
    int64_t begin = pads[i], end = pads[i + spatial], out;
    if (auto_pad == "VALID") {
      begin = end = 0;
      out = (in - extent) / strides[i] + 1;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      out = (in + strides[i] - 1) / strides[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * strides[i] + extent - in);
      begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end = total - begin;
    } else {
      const int64_t span = in + begin + end - extent;
      out = (ceil_mode ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
      // A window may not start in the right padding (as ONNX Runtime and PyTorch define it).
      if (ceil_mode && (out - 1) * strides[i] >= in + begin) --out;
    }
    if (in + begin + end < extent || out < 1) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": input ", ShapeToString(x),
                                                     " is smaller than the window"));
    }
    // oneDNN takes the output size implied by the right padding: extend it for ceil_mode.
    end = std::max(end, (out - 1) * strides[i] + extent - in - begin);
    g.pads = g.pads || begin > 0 || end > 0;
    g.y.push_back(out);
    g.kernel.push_back(kernel[i]);
    g.strides.push_back(strides[i]);
    g.pad_l.push_back(begin);
    g.pad_r.push_back(end);
    g.dilations.push_back(dilations[i] - 1);
  }
  g.algorithm = kind == PoolKind::kMax || kind == PoolKind::kGlobalMax
                    ? dnnl::algorithm::pooling_max
                    : (count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                         : dnnl::algorithm::pooling_avg_exclude_padding);
  return g;
}

template <PoolKind kKind>
absl::StatusOr<BuiltKernel> BuildPool(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  if (x.type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(node.Describe(), ": input must be float32"));
  }
  OCTET_ASSIGN_OR_RETURN(PoolGeometry g, ComputePoolGeometry(node, x.shape, kKind));
  try {
    const memory::desc src = onednn::DescOf(x);
    const TensorDesc y_desc = x.Like(DataType::kFloat32, g.y);
    const memory::desc dst = onednn::DescOf(y_desc);
    dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, g.algorithm, src, dst,
                                        g.strides, g.kernel, g.dilations, g.pad_l, g.pad_r);
    dnnl::pooling_v2_forward::primitive_desc pd(desc, onednn::DefaultAttr(), onednn::CpuEngine());
    BuiltKernel built;
    built.kernel =
        std::make_unique<onednn::SrcDstKernel>(dnnl::pooling_v2_forward(pd), pd, node.Describe());
    built.outputs.push_back(y_desc);
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

// Int8 pooling in the channels-last layout, where oneDNN has vectorized int8 pooling
// (`jit_int:avx2`, ...) while plain NCHW gets its reference code: the plain input is reordered in
// and the result out, through the workspace scratchpad: [shared scratch | nhwc src | nhwc dst].
class ChannelsLastPoolKernel final : public onednn::PrimitiveKernel {
 public:
  ChannelsLastPoolKernel(const dnnl::pooling_v2_forward::primitive_desc& pd,
                         const memory::desc& plain_src, const memory::desc& plain_dst,
                         std::string what)
      : PrimitiveKernel(dnnl::pooling_v2_forward(pd), pd, std::move(what)),
        plain_src_(plain_src),
        plain_dst_(plain_dst),
        src_(pd.src_desc()),
        dst_(pd.dst_desc()) {
    size_t shared = PrimitiveKernel::scratchpad_bytes();
    to_nhwc_ = onednn::MakeReorder(plain_src_, src_, &shared);
    to_plain_ = onednn::MakeReorder(dst_, plain_dst_, &shared);
    src_offset_ = AlignScratchpad(shared);
    dst_offset_ = AlignScratchpad(src_offset_ + src_.get_size());
    total_ = dst_offset_ + dst_.get_size();
    shared_ = shared;
  }

  size_t scratchpad_bytes() const override { return total_; }
  std::string implementation() const override {
    return PrimitiveKernel::implementation() + " (nhwc, + input and output reorders)";
  }

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    char* scratch = static_cast<char*>(context.scratchpad);
    const memory shared(onednn::PlainDesc(Shape{static_cast<int64_t>(std::max<size_t>(shared_, 1))},
                                          DataType::kUint8),
                        onednn::CpuEngine(), scratch);
    const memory src(src_, onednn::CpuEngine(), scratch + src_offset_);
    const memory dst(dst_, onednn::CpuEngine(), scratch + dst_offset_);
    try {
      to_nhwc_.execute(onednn::ThreadStream(),
                       {{DNNL_ARG_FROM, onednn::Wrap(plain_src_, *inputs[0])},
                        {DNNL_ARG_TO, src},
                        {DNNL_ARG_SCRATCHPAD, shared}});
    } catch (const dnnl::error& e) {
      return onednn::ToStatus(e, "reordering an int8 pooling input");
    }
    // The pooling primitive's own scratchpad is the start of the workspace scratchpad.
    OCTET_RETURN_IF_ERROR(Execute({{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, context));
    try {
      to_plain_.execute(onednn::ThreadStream(),
                        {{DNNL_ARG_FROM, dst},
                         {DNNL_ARG_TO, onednn::Wrap(plain_dst_, *outputs[0])},
                         {DNNL_ARG_SCRATCHPAD, shared}});
    } catch (const dnnl::error& e) {
      return onednn::ToStatus(e, "reordering an int8 pooling output");
    }
    return absl::OkStatus();
  }

 private:
  memory::desc plain_src_, plain_dst_, src_, dst_;
  dnnl::reorder to_nhwc_, to_plain_;
  size_t shared_ = 0, src_offset_ = 0, dst_offset_ = 0, total_ = 0;
};

// ai.octet.Int8{Max,Average,GlobalMax,GlobalAverage}Pool(x_q, x_scale, x_zero_point, y_scale,
// y_zero_point) with the pooling node's attributes, made by LowerQdqToInt8 from
// DQ -> pool -> Q: oneDNN's pooling on u8/s8 data. Max and average commute with the affine map
// of quantization, so the pooled integers need only the requantization
// y = pooled * (s_x / s_y) + (z_y - z_x * s_x / s_y), an eltwise_linear post-op (none when the
// parameters are the same). Padding counted into an average would enter as integer 0, not as
// z_x: the lowering leaves that case in float.
template <PoolKind kKind>
absl::StatusOr<BuiltKernel> BuildInt8Pool(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  for (int i = 1; i <= 4; ++i) {
    const bool optional = i == 2 || i == 4;  // zero points default to 0
    if (optional && !context.has_input(i)) continue;
    if (context.constant(i) == nullptr || context.constant(i)->element_count() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": scales and zero points must be scalar constants"));
    }
  }
  const DataType y_type = context.has_input(4) ? context.constant(4)->type() : DataType::kUint8;
  if ((x.type != DataType::kUint8 && x.type != DataType::kInt8) || y_type != x.type) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": u8 or s8 input and output of the same type"));
  }
  OCTET_ASSIGN_OR_RETURN(PoolGeometry g, ComputePoolGeometry(node, x.shape, kKind));
  const float x_scale = onednn::ScalarParameter(context.constant(1));
  const float x_zero = onednn::ScalarParameter(context.constant(2));
  const float y_scale = onednn::ScalarParameter(context.constant(3));
  const float y_zero = onednn::ScalarParameter(context.constant(4));
  if (g.algorithm == dnnl::algorithm::pooling_avg_include_padding && g.pads && x_zero != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        node.Describe(), ": padding counted into the average needs input zero point 0"));
  }
  const float alpha = x_scale / y_scale;
  const float beta = y_zero - x_zero * alpha;
  try {
    dnnl::primitive_attr attr = onednn::DefaultAttr();
    if (alpha != 1.0f || beta != 0.0f) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, alpha, beta);
      attr.set_post_ops(ops);
    }
    const std::string notes =
        absl::StrCat(DataTypeName(x.type), " in and out, zero points ", x_zero, " -> ", y_zero,
                     alpha != 1.0f || beta != 0.0f ? ", requantized (eltwise_linear)"
                                                   : ", same scale: no requantization");
    auto make_pd = [&](const memory::desc& src, const memory::desc& dst) {
      return dnnl::pooling_v2_forward::primitive_desc(
          dnnl::pooling_v2_forward::desc(dnnl::prop_kind::forward_inference, g.algorithm, src, dst,
                                         g.strides, g.kernel, g.dilations, g.pad_l, g.pad_r),
          attr, onednn::CpuEngine());
    };
    TensorDesc x_nhwc = x;
    x_nhwc.channel_block = 0;
    x_nhwc.channels_last = true;
    const memory::desc src_nhwc = onednn::DescOf(x_nhwc);
    const memory::desc dst_nhwc = onednn::DescOf(x_nhwc.Like(y_type, g.y));
    BuiltKernel built;
    if (x.channels_last) {
      // From an int8 convolution: pool channels-last as it comes, and hand the result on so.
      const dnnl::pooling_v2_forward::primitive_desc pd = make_pd(src_nhwc, dst_nhwc);
      built.kernel =
          std::make_unique<onednn::SrcDstKernel>(dnnl::pooling_v2_forward(pd), pd, node.Describe());
      // One pixel per channel (global pooling) is the same bytes as plain.
      built.outputs.push_back(onednn::LayoutOf(dst_nhwc, g.y, y_type));
      built.notes = notes;
      return built;
    }
    const memory::desc src = onednn::PlainDesc(x.shape, x.type);
    const memory::desc dst = onednn::PlainDesc(g.y, y_type);
    const dnnl::pooling_v2_forward::primitive_desc pd = make_pd(src, dst);
    // oneDNN's vectorized int8 pooling wants channels last; use it when it is there for this
    // case (the plain layout gets the reference code).
    std::optional<dnnl::pooling_v2_forward::primitive_desc> nhwc_pd;
    if (x.shape.size() == 4 && absl::StartsWith(pd.impl_info_str(), "ref")) {
      const dnnl::pooling_v2_forward::primitive_desc candidate = make_pd(src_nhwc, dst_nhwc);
      if (!absl::StartsWith(candidate.impl_info_str(), "ref")) nhwc_pd = candidate;
    }
    if (nhwc_pd.has_value()) {
      built.kernel = std::make_unique<ChannelsLastPoolKernel>(*nhwc_pd, src, dst, node.Describe());
    } else {
      built.kernel =
          std::make_unique<onednn::SrcDstKernel>(dnnl::pooling_v2_forward(pd), pd, node.Describe());
    }
    built.outputs.push_back({y_type, g.y});
    built.notes = notes;
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

absl::Status CheckInt8Pool(const CheckContext& context) {
  return RequireInputCount(context.node, 4, 5, 4);
}

// Int8 pooling takes channels-last input as it is; channel-blocked input is made plain.
bool TakesChannelsLast(const KernelBuildContext& context) { return context.input(0).channels_last; }

}  // namespace

std::vector<OpDefinition> PoolingOps() {
  return {
      {"AveragePool", CheckPool, BuildPool<PoolKind::kAverage>, 0, false, "", AnyLayout},
      {"GlobalAveragePool", CheckPool, BuildPool<PoolKind::kGlobalAverage>, 0, false, "",
       AnyLayout},
      {"GlobalMaxPool", CheckPool, BuildPool<PoolKind::kGlobalMax>, 0, false, "", AnyLayout},
      {"MaxPool", CheckPool, BuildPool<PoolKind::kMax>, 0, false, "", AnyLayout},
      {"Int8AveragePool", CheckInt8Pool, BuildInt8Pool<PoolKind::kAverage>, 0, false, kOctetDomain,
       TakesChannelsLast},
      {"Int8GlobalAveragePool", CheckInt8Pool, BuildInt8Pool<PoolKind::kGlobalAverage>, 0, false,
       kOctetDomain, TakesChannelsLast},
      {"Int8GlobalMaxPool", CheckInt8Pool, BuildInt8Pool<PoolKind::kGlobalMax>, 0, false,
       kOctetDomain, TakesChannelsLast},
      {"Int8MaxPool", CheckInt8Pool, BuildInt8Pool<PoolKind::kMax>, 0, false, kOctetDomain,
       TakesChannelsLast},
  };
}

}  // namespace octet
