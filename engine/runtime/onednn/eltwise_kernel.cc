// Element-wise activations on oneDNN's eltwise primitive: Relu, LeakyRelu, Sigmoid, Tanh, Elu,
// Exp, Log, Sqrt, Abs, Neg, HardSwish, Softplus, Clip.
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/onednn/onednn_common.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

using dnnl::algorithm;
using dnnl::memory;

// The oneDNN algorithm and its alpha/beta for one node, read at build time.
struct EltwiseSpec {
  algorithm kind;
  float alpha = 0.0f;
  float beta = 0.0f;
};

// The tensor is viewed as 1-D: element-wise ops do not care about its shape.
absl::StatusOr<BuiltKernel> BuildEltwise(const KernelBuildContext& context, EltwiseSpec spec) {
  const TensorDesc& x = context.input(0);
  if (x.type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(context.node.Describe(), ": input must be float32"));
  }
  OCTET_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(x.shape));
  BuiltKernel built;
  built.outputs.push_back(x);
  if (count == 0) {
    built.kernel = std::make_unique<onednn::NoOpKernel>();
    return built;
  }
  try {
    // Plain tensors are viewed as 1-D; blocked ones keep their layout (padding included).
    const memory::desc flat =
        !x.plain() ? onednn::DescOf(x) : onednn::PlainDesc(Shape{count}, DataType::kFloat32);
    dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, spec.kind, flat,
                                     spec.alpha, spec.beta);
    dnnl::eltwise_forward::primitive_desc pd(desc, onednn::DefaultAttr(), onednn::CpuEngine());
    built.kernel = std::make_unique<onednn::SrcDstKernel>(dnnl::eltwise_forward(pd), pd,
                                                          context.node.Describe());
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, context.node.Describe());
  }
}

absl::Status CheckUnary(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 1, 1, 1));
  return RequireInputType(context, 0, {DataType::kFloat32});
}

template <algorithm kKind>
absl::StatusOr<BuiltKernel> BuildSimple(const KernelBuildContext& context) {
  return BuildEltwise(context, {kKind});
}

absl::StatusOr<BuiltKernel> BuildLeakyRelu(const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(float alpha, context.node.GetFloat("alpha", 0.01f));
  return BuildEltwise(context, {algorithm::eltwise_relu, alpha});
}

absl::StatusOr<BuiltKernel> BuildElu(const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(float alpha, context.node.GetFloat("alpha", 1.0f));
  return BuildEltwise(context, {algorithm::eltwise_elu, alpha});
}

absl::StatusOr<BuiltKernel> BuildNeg(const KernelBuildContext& context) {
  return BuildEltwise(context, {algorithm::eltwise_linear, -1.0f, 0.0f});
}

absl::StatusOr<BuiltKernel> BuildHardSwish(const KernelBuildContext& context) {
  // ONNX: x * max(0, min(1, x/6 + 1/2)); oneDNN 2.6's hardswish is exactly that.
  return BuildEltwise(context, {algorithm::eltwise_hardswish});
}

absl::StatusOr<BuiltKernel> BuildSoftplus(const KernelBuildContext& context) {
  return BuildEltwise(context, {algorithm::eltwise_soft_relu});
}

// Clip: bounds from attributes (opset < 11) or optional constant inputs.
absl::Status CheckClip(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 1, 3, 1));
  return RequireInputType(context, 0, {DataType::kFloat32});
}

absl::StatusOr<BuiltKernel> BuildClip(const KernelBuildContext& context) {
  const Node& node = context.node;
  OCTET_ASSIGN_OR_RETURN(float low, node.GetFloat("min", -std::numeric_limits<float>::infinity()));
  OCTET_ASSIGN_OR_RETURN(float high, node.GetFloat("max", std::numeric_limits<float>::infinity()));
  for (size_t i : {size_t{1}, size_t{2}}) {
    if (!context.has_input(i)) continue;
    const Tensor* bound = context.constant(i);
    if (bound == nullptr || bound->type() != DataType::kFloat32 || bound->element_count() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": min and max must be float32 scalars"));
    }
    (i == 1 ? low : high) = bound->data<float>()[0];
  }
  // clip_v2 keeps the bounds inclusive on both sides, as ONNX does.
  return BuildEltwise(context, {algorithm::eltwise_clip_v2, low, high});
}

}  // namespace

std::vector<OpDefinition> EltwiseOps() {
  return {
      {"Abs", CheckUnary, BuildSimple<algorithm::eltwise_abs>, 0, false, "", AnyLayout},
      {"Clip", CheckClip, BuildClip, 0b110, false, "", AnyLayout},
      {"Elu", CheckUnary, BuildElu, 0, false, "", AnyLayout},
      {"Exp", CheckUnary, BuildSimple<algorithm::eltwise_exp>, 0, false, "", AnyLayout},
      {"HardSwish", CheckUnary, BuildHardSwish, 0, false, "", AnyLayout},
      {"LeakyRelu", CheckUnary, BuildLeakyRelu, 0, false, "", AnyLayout},
      {"Log", CheckUnary, BuildSimple<algorithm::eltwise_log>, 0, false, "", AnyLayout},
      {"Neg", CheckUnary, BuildNeg, 0, false, "", AnyLayout},
      {"Relu", CheckUnary, BuildSimple<algorithm::eltwise_relu>, 0, false, "", AnyLayout},
      {"Sigmoid", CheckUnary, BuildSimple<algorithm::eltwise_logistic>, 0, false, "", AnyLayout},
      {"Softplus", CheckUnary, BuildSoftplus, 0, false, "", AnyLayout},
      {"Sqrt", CheckUnary, BuildSimple<algorithm::eltwise_sqrt>, 0, false, "", AnyLayout},
      {"Tanh", CheckUnary, BuildSimple<algorithm::eltwise_tanh>, 0, false, "", AnyLayout},
  };
}

}  // namespace octet
