// Softmax and LogSoftmax on oneDNN's softmax_v2 primitive. Before opset 13 ONNX flattens the
// input to 2-D at `axis` (default 1) and normalises rows; from 13 it normalises along `axis`
// (default -1).
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/onednn/onednn_common.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

using dnnl::memory;

absl::Status CheckSoftmax(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 1, 1, 1));
  return RequireInputType(context, 0, {DataType::kFloat32});
}

template <bool kLog>
absl::StatusOr<BuiltKernel> BuildSoftmax(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  const bool coerce_2d = context.opset < 13;
  OCTET_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", coerce_2d ? 1 : -1));
  OCTET_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, rank));
  Shape view = x.shape;
  if (coerce_2d) {
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < rank; ++i) (i < axis ? outer : inner) *= x.shape[i];
    view = {outer, inner};
    axis = 1;
  }
  if (view.empty()) view = {1};
  BuiltKernel built;
  built.outputs.push_back(x);
  OCTET_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(view));
  if (count == 0) {
    built.kernel = std::make_unique<onednn::NoOpKernel>();
    return built;
  }
  try {
    const memory::desc desc = onednn::PlainDesc(view, DataType::kFloat32);
    dnnl::softmax_v2_forward::desc softmax(
        dnnl::prop_kind::forward_inference,
        kLog ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate, desc, desc,
        static_cast<int>(axis));
    dnnl::softmax_v2_forward::primitive_desc pd(softmax, onednn::DefaultAttr(),
                                                onednn::CpuEngine());
    built.kernel =
        std::make_unique<onednn::SrcDstKernel>(dnnl::softmax_v2_forward(pd), pd, node.Describe());
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

}  // namespace

std::vector<OpDefinition> SoftmaxOps() {
  return {
      {"LogSoftmax", CheckSoftmax, BuildSoftmax<true>},
      {"Softmax", CheckSoftmax, BuildSoftmax<false>},
  };
}

}  // namespace octet
