// Element-wise activations on oneDNN's eltwise primitive.
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/kernel_registry.h"
#include "engine/runtime/onednn/onednn_common.h"

namespace octet {
namespace {

using dnnl::memory;

class EltwiseKernel final : public onednn::PrimitiveKernel {
 public:
  EltwiseKernel(const dnnl::eltwise_forward::primitive_desc& pd, std::string what)
      : PrimitiveKernel(dnnl::eltwise_forward(pd), pd, std::move(what)), desc_(pd.src_desc()) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    return Execute({{DNNL_ARG_SRC, onednn::Wrap(desc_, *inputs[0])},
                    {DNNL_ARG_DST, onednn::Wrap(desc_, *outputs[0])}},
                   context);
  }

 private:
  memory::desc desc_;
};

// The tensor is viewed as 1-D: element-wise ops do not care about its shape.
absl::StatusOr<BuiltKernel> BuildEltwise(const KernelBuildContext& context,
                                         dnnl::algorithm algorithm, float alpha, float beta) {
  const TensorDesc& x = context.input(0);
  if (x.type != DataType::kFloat32) {
    return absl::InvalidArgumentError(
        absl::StrCat(context.node.Describe(), ": input must be float32"));
  }
  OCTET_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(x.shape));
  try {
    const memory::desc flat = onednn::PlainDesc(Shape{count}, DataType::kFloat32);
    dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, flat, alpha,
                                     beta);
    dnnl::eltwise_forward::primitive_desc pd(desc, onednn::DefaultAttr(), onednn::CpuEngine());
    BuiltKernel built;
    built.kernel = std::make_unique<EltwiseKernel>(pd, context.node.Describe());
    built.outputs.push_back(x);
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, context.node.Describe());
  }
}

absl::Status CheckUnary(const Node& node) {
  if (node.inputs.size() != 1 || node.input(0).empty() || node.outputs.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": needs one input and one output"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckRelu(const Node& node, const Graph&) { return CheckUnary(node); }

absl::StatusOr<BuiltKernel> BuildRelu(const KernelBuildContext& context) {
  return BuildEltwise(context, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
}

}  // namespace octet
