// Add, Sub, Mul, Div, Max, Min with numpy broadcasting, and ai.octet.Int8Add: oneDNN's binary
// primitive where it applies (float32; int8 operands of one shape), Octet's kernels
// (cpu/arithmetic_kernels.h) otherwise.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/cpu/arithmetic_kernels.h"
#include "engine/runtime/cpu/broadcast.h"
#include "engine/runtime/onednn/onednn_common.h"
#include "engine/runtime/op_families.h"
#include "engine/tensor/affine_quantization.h"

namespace octet {
namespace {

using dnnl::memory;

using cpu::BinaryOp;
using cpu::Commutes;

dnnl::algorithm ToOneDnn(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return dnnl::algorithm::binary_add;
    case BinaryOp::kSub:
      return dnnl::algorithm::binary_sub;
    case BinaryOp::kMul:
      return dnnl::algorithm::binary_mul;
    case BinaryOp::kDiv:
      return dnnl::algorithm::binary_div;
    case BinaryOp::kMax:
      return dnnl::algorithm::binary_max;
    case BinaryOp::kMin:
      return dnnl::algorithm::binary_min;
  }
  return dnnl::algorithm::binary_add;
}

class OneDnnBinaryKernel final : public onednn::PrimitiveKernel {
 public:
  OneDnnBinaryKernel(const dnnl::binary::primitive_desc& pd, bool swapped, std::string what)
      : PrimitiveKernel(dnnl::binary(pd), pd, std::move(what)),
        src0_(pd.src_desc(0)),
        src1_(pd.src_desc(1)),
        dst_(pd.dst_desc()),
        swapped_(swapped) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    const Tensor& first = *inputs[swapped_ ? 1 : 0];
    const Tensor& second = *inputs[swapped_ ? 0 : 1];
    return Execute({{DNNL_ARG_SRC_0, onednn::Wrap(src0_, first)},
                    {DNNL_ARG_SRC_1, onednn::Wrap(src1_, second)},
                    {DNNL_ARG_DST, onednn::Wrap(dst_, *outputs[0])}},
                   context);
  }

 private:
  memory::desc src0_, src1_, dst_;
  bool swapped_;
};

absl::Status CheckBinary(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 2, 2, 2));
  for (size_t i : {size_t{0}, size_t{1}}) {
    OCTET_RETURN_IF_ERROR(
        RequireInputType(context, i,
                         {DataType::kFloat32, DataType::kFloat64, DataType::kInt32,
                          DataType::kInt64, DataType::kInt8, DataType::kUint8}));
  }
  return absl::OkStatus();
}

// How oneDNN's binary primitive computes op(a, b) for inputs 0 and 1: it broadcasts only its
// second source, so the operands are swapped when only the first needs broadcasting and the op
// commutes.
struct OneDnnBinaryShapes {
  Shape a, b, y;  // a and b right-aligned to y's rank
  bool swapped = false;
};

absl::StatusOr<OneDnnBinaryShapes> ShapesForOneDnn(const KernelBuildContext& context, BinaryOp op) {
  const TensorDesc& a = context.input(0);
  const TensorDesc& b = context.input(1);
  if (context.inputs.size() != 2 || !context.has_input(1) || a.type != b.type) {
    return absl::FailedPreconditionError("two inputs of one element type");
  }
  OCTET_ASSIGN_OR_RETURN(Shape y, cpu::BroadcastShapes(a.shape, b.shape));
  OneDnnBinaryShapes s{cpu::RightAlign(a.shape, y.size()), cpu::RightAlign(b.shape, y.size()), y};
  if (!a.plain() || !b.plain()) return s;  // same-shape float32 (TakesBlockedPair)
  OCTET_ASSIGN_OR_RETURN(const int64_t count, CheckedElementCount(y));
  const bool a_full_size = s.a == y, b_full_size = s.b == y;
  s.swapped = !a_full_size && b_full_size && Commutes(op);
  if (a.type != DataType::kFloat32 || count == 0 || y.empty() || y.size() > 12 ||
      !(a_full_size || s.swapped)) {
    return absl::FailedPreconditionError(
        "float32 of rank 1 to 12, broadcasting one operand only, the first only when the op "
        "commutes");
  }
  return s;
}

template <BinaryOp kOp>
absl::Status OneDnnBinaryApplies(const KernelBuildContext& context) {
  return ShapesForOneDnn(context, kOp).status();
}

template <BinaryOp kOp>
absl::StatusOr<BuiltKernel> BuildOneDnnBinary(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& a = context.input(0);
  const TensorDesc& b = context.input(1);
  OCTET_ASSIGN_OR_RETURN(const OneDnnBinaryShapes s, ShapesForOneDnn(context, kOp));
  try {
    BuiltKernel built;
    if (!a.plain() || !b.plain()) {
      // Same-shape float inputs (TakesBlockedPair): the result takes the first one's layout.
      const TensorDesc y_desc = (!a.plain() ? a : b).Like(DataType::kFloat32, s.y);
      dnnl::binary::desc desc(ToOneDnn(kOp), onednn::DescOf(a), onednn::DescOf(b),
                              onednn::DescOf(y_desc));
      dnnl::binary::primitive_desc pd(desc, onednn::DefaultAttr(), onednn::CpuEngine());
      built.outputs.push_back(y_desc);
      built.kernel = std::make_unique<OneDnnBinaryKernel>(pd, false, node.Describe());
      return built;
    }
    const memory::desc src0 = onednn::PlainDesc(s.swapped ? s.b : s.a, DataType::kFloat32);
    const memory::desc src1 = onednn::PlainDesc(s.swapped ? s.a : s.b, DataType::kFloat32);
    const memory::desc dst = onednn::PlainDesc(s.y, DataType::kFloat32);
    dnnl::binary::desc desc(ToOneDnn(kOp), src0, src1, dst);
    dnnl::binary::primitive_desc pd(desc, onednn::DefaultAttr(), onednn::CpuEngine());
    built.outputs.push_back({DataType::kFloat32, s.y});
    built.kernel = std::make_unique<OneDnnBinaryKernel>(pd, s.swapped, node.Describe());
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

template <BinaryOp kOp>
absl::StatusOr<BuiltKernel> BuildCpuBinary(const KernelBuildContext& context) {
  return cpu::BuildBroadcastBinary(context, kOp);
}

// Max and Min: two inputs as binary ops, other counts variadic.
template <BinaryOp kOp>
absl::StatusOr<BuiltKernel> BuildCpuMaxMin(const KernelBuildContext& context) {
  if (context.inputs.size() == 2 && context.has_input(1)) {
    return cpu::BuildBroadcastBinary(context, kOp);
  }
  return cpu::BuildVariadic(context, kOp, false);
}

// Int8Add's operands (inputs 0 and 3) may stay in their layout when they share it.
bool TakesInt8AddOperands(const KernelBuildContext& context) {
  return context.has_input(0) && context.has_input(3) &&
         cpu::SameShapeAndLayout(context.input(0), context.input(3));
}

bool TakesBlockedPair(const KernelBuildContext& context) {
  return context.inputs.size() == 2 && context.has_input(0) && context.has_input(1) &&
         context.input(0).type == DataType::kFloat32 &&
         context.input(1).type == DataType::kFloat32 && context.input(0).shape.size() == 4 &&
         context.input(0).shape == context.input(1).shape;
}

// ai.octet.Int8Add(a_q, a_scale, a_zero_point, b_q, b_scale, b_zero_point, y_scale,
// y_zero_point), attribute `activation` ("" or "Relu"), made by LowerQdqToInt8 from
// Q([Relu](Add(DQ(a), DQ(b)))) with a and b of one shape: oneDNN's binary add on u8/s8 with the
// source scales s_a/s_y and s_b/s_y, the zero points folded into an eltwise_linear post-op and a
// fused Relu a clip at z_y:
//   y = max(a (s_a/s_y) + b (s_b/s_y) - z_a s_a/s_y - z_b s_b/s_y + z_y [, z_y]).
class Int8AddKernel final : public onednn::PrimitiveKernel {
 public:
  Int8AddKernel(const dnnl::binary::primitive_desc& pd, std::string what)
      : PrimitiveKernel(dnnl::binary(pd), pd, std::move(what)),
        src0_(pd.src_desc(0)),
        src1_(pd.src_desc(1)),
        dst_(pd.dst_desc()) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    return Execute({{DNNL_ARG_SRC_0, onednn::Wrap(src0_, *inputs[0])},
                    {DNNL_ARG_SRC_1, onednn::Wrap(src1_, *inputs[3])},
                    {DNNL_ARG_DST, onednn::Wrap(dst_, *outputs[0])}},
                   context);
  }

 private:
  memory::desc src0_, src1_, dst_;
};

absl::Status CheckInt8Add(const CheckContext& context) {
  return RequireInputCount(context.node, 7, 8, 7);
}

absl::Status SameShapes(const KernelBuildContext& context) {
  if (context.input(0).shape != context.input(3).shape) {
    return absl::FailedPreconditionError("operands of one shape");
  }
  return absl::OkStatus();
}

absl::StatusOr<BuiltKernel> BuildOneDnnInt8Add(const KernelBuildContext& context) {
  OCTET_RETURN_IF_ERROR(cpu::CheckInt8AddOperands(context));
  const Node& node = context.node;
  const TensorDesc& a = context.input(0);
  const TensorDesc& b = context.input(3);
  const DataType y_type = context.has_input(7) ? context.constant(7)->type() : DataType::kUint8;
  OCTET_ASSIGN_OR_RETURN(const std::string activation, node.GetString("activation", ""));
  const float y_scale = onednn::ScalarParameter(context.constant(6));
  const float a_ratio = onednn::ScalarParameter(context.constant(1)) / y_scale;
  const float b_ratio = onednn::ScalarParameter(context.constant(4)) / y_scale;
  const float offset = -onednn::ScalarParameter(context.constant(2)) * a_ratio -
                       onednn::ScalarParameter(context.constant(5)) * b_ratio;
  const float y_zero = onednn::ScalarParameter(context.constant(7));
  try {
    // Same-shape operands in their layout (channels-last from int8 convolutions); the result too.
    const TensorDesc y_desc = a.Like(y_type, a.shape);
    const memory::desc src0 = onednn::DescOf(a);
    const memory::desc src1 = onednn::DescOf(b);
    const memory::desc dst = onednn::DescOf(y_desc);
    dnnl::binary::desc desc(dnnl::algorithm::binary_add, src0, src1, dst);
    dnnl::primitive_attr attr = onednn::DefaultAttr();
    attr.set_scales(DNNL_ARG_SRC_0, 0, {a_ratio});
    attr.set_scales(DNNL_ARG_SRC_1, 0, {b_ratio});
    // Relu in real units is a floor at z_y in integer units: one linear map, then a clip.
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 1.0f, offset + y_zero);
    if (activation == "Relu") {
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, y_zero,
                         std::numeric_limits<float>::max());
    }
    attr.set_post_ops(ops);
    const dnnl::binary::primitive_desc pd(desc, attr, onednn::CpuEngine());
    BuiltKernel built;
    built.kernel = std::make_unique<Int8AddKernel>(pd, node.Describe());
    built.outputs.push_back(y_desc);
    built.notes = absl::StrCat(
        DataTypeName(a.type), " + ", DataTypeName(b.type), " -> ", DataTypeName(y_type),
        ", zero points ", onednn::ScalarParameter(context.constant(2)), ", ",
        onednn::ScalarParameter(context.constant(5)), " -> ", y_zero, " folded into eltwise_linear",
        activation.empty() ? "" : ", fused Relu");
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

// Add, Sub, Mul, Div (`kVariadic` false) or Max, Min: oneDNN's binary primitive where it
// applies, else Octet's broadcasting (or, for Max and Min over other than two inputs, variadic)
// kernel.
template <BinaryOp kOp, bool kVariadic>
OpDefinition BinaryOpDefinition(absl::string_view name) {
  OpDefinition op{name, kVariadic ? cpu::CheckVariadic : CheckBinary, nullptr};
  if (!kVariadic) op.takes_blocked = TakesBlockedPair;
  op.implementations = {
      {"onednn", OneDnnBinaryApplies<kOp>, BuildOneDnnBinary<kOp>},
      {"octet:cpu", nullptr, kVariadic ? BuildCpuMaxMin<kOp> : BuildCpuBinary<kOp>}};
  return op;
}

}  // namespace

std::vector<OpDefinition> BinaryOps() {
  OpDefinition int8_add{"Int8Add",    CheckInt8Add,        nullptr, 0, false,
                        kOctetDomain, TakesInt8AddOperands};
  int8_add.implementations = {{"onednn", SameShapes, BuildOneDnnInt8Add},
                              {"octet:cpu broadcast", nullptr, cpu::BuildInt8BroadcastAdd}};
  return {BinaryOpDefinition<BinaryOp::kAdd, false>("Add"),
          BinaryOpDefinition<BinaryOp::kDiv, false>("Div"),
          BinaryOpDefinition<BinaryOp::kMul, false>("Mul"),
          BinaryOpDefinition<BinaryOp::kSub, false>("Sub"),
          BinaryOpDefinition<BinaryOp::kMax, true>("Max"),
          BinaryOpDefinition<BinaryOp::kMin, true>("Min"),
          int8_add};
}

}  // namespace octet
