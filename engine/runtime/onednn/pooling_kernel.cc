// MaxPool, AveragePool (pads, auto_pad, strides, dilations, ceil_mode, count_include_pad),
// GlobalAveragePool and GlobalMaxPool on oneDNN's pooling_v2 primitive, 1-D to 3-D.
#include <utility>

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

template <PoolKind kKind>
absl::StatusOr<BuiltKernel> BuildPool(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  if (x.type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(node.Describe(), ": input must be float32"));
  }
  if (x.shape.size() < 3 || x.shape.size() > 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        node.Describe(), ": input ", ShapeToString(x.shape), " must have rank 3 to 5"));
  }
  const size_t spatial = x.shape.size() - 2;
  const bool global = kKind == PoolKind::kGlobalMax || kKind == PoolKind::kGlobalAverage;
  std::vector<int64_t> kernel(x.shape.begin() + 2, x.shape.end());
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
  Shape y = {x.shape[0], x.shape[1]};
  memory::dims pad_l, pad_r, onednn_dilations;
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t in = x.shape[2 + i];
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
      return absl::InvalidArgumentError(absl::StrCat(
          node.Describe(), ": input ", ShapeToString(x.shape), " is smaller than the window"));
    }
    // oneDNN takes the output size implied by the right padding: extend it for ceil_mode.
    end = std::max(end, (out - 1) * strides[i] + extent - in - begin);
    y.push_back(out);
    pad_l.push_back(begin);
    pad_r.push_back(end);
    onednn_dilations.push_back(dilations[i] - 1);
  }
  const dnnl::algorithm algorithm =
      kKind == PoolKind::kMax || kKind == PoolKind::kGlobalMax
          ? dnnl::algorithm::pooling_max
          : (count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                               : dnnl::algorithm::pooling_avg_exclude_padding);
  try {
    const memory::desc src = onednn::DescOf(x);
    const TensorDesc y_desc{DataType::kFloat32, y, x.channel_block};
    const memory::desc dst = onednn::DescOf(y_desc);
    dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, src, dst,
                                        memory::dims(strides.begin(), strides.end()),
                                        memory::dims(kernel.begin(), kernel.end()),
                                        onednn_dilations, pad_l, pad_r);
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

}  // namespace

std::vector<OpDefinition> PoolingOps() {
  return {
      {"AveragePool", CheckPool, BuildPool<PoolKind::kAverage>, 0, false, "", AnyLayout},
      {"GlobalAveragePool", CheckPool, BuildPool<PoolKind::kGlobalAverage>, 0, false, "",
       AnyLayout},
      {"GlobalMaxPool", CheckPool, BuildPool<PoolKind::kGlobalMax>, 0, false, "", AnyLayout},
      {"MaxPool", CheckPool, BuildPool<PoolKind::kMax>, 0, false, "", AnyLayout},
  };
}

}  // namespace octet
