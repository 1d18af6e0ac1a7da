// Add with numpy broadcasting. oneDNN's binary primitive broadcasts only its second source, so
// operands are swapped when only the first needs broadcasting (Add commutes); when both do, a
// plain C++ kernel runs instead.
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/cpu/broadcast.h"
#include "engine/runtime/kernel_registry.h"
#include "engine/runtime/onednn/onednn_common.h"

namespace octet {
namespace {

using dnnl::memory;

class BinaryKernel final : public onednn::PrimitiveKernel {
 public:
  BinaryKernel(const dnnl::binary::primitive_desc& pd, bool swapped, std::string what)
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

class BroadcastAddKernel final : public Kernel {
 public:
  BroadcastAddKernel(Shape a, Shape b, Shape y) : a_(std::move(a)), b_(std::move(b)), y_(std::move(y)) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    cpu::BroadcastBinary(inputs[0]->data<float>(), a_, inputs[1]->data<float>(), b_,
                         outputs[0]->data<float>(), y_, [](float x, float y) { return x + y; });
    return absl::OkStatus();
  }

 private:
  Shape a_, b_, y_;
};

}  // namespace

absl::Status CheckAdd(const Node& node, const Graph&) {
  if (node.inputs.size() != 2 || node.input(0).empty() || node.input(1).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": needs two inputs"));
  }
  return absl::OkStatus();
}

absl::StatusOr<BuiltKernel> BuildAdd(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& a = context.input(0);
  const TensorDesc& b = context.input(1);
  if (a.type != DataType::kFloat32 || b.type != DataType::kFloat32) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": inputs must be float32"));
  }
  absl::StatusOr<Shape> y = cpu::BroadcastShapes(a.shape, b.shape);
  if (!y.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": ", y.status().message()));
  }
  const Shape a_full = cpu::RightAlign(a.shape, y->size());
  const Shape b_full = cpu::RightAlign(b.shape, y->size());
  const bool a_is_full = a_full == *y, b_is_full = b_full == *y;
  BuiltKernel built;
  built.outputs.push_back({DataType::kFloat32, *y});
  if (!a_is_full && !b_is_full) {
    built.kernel = std::make_unique<BroadcastAddKernel>(a_full, b_full, *y);
    return built;
  }
  const bool swapped = !a_is_full;
  // oneDNN's binary primitive takes 1 to 12 dims and at least one element.
  OCTET_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(*y));
  if (y->size() > 12 || y->empty() || count == 0) {
    built.kernel = std::make_unique<BroadcastAddKernel>(a_full, b_full, *y);
    return built;
  }
  try {
    const memory::desc src0 = onednn::PlainDesc(swapped ? b_full : a_full, DataType::kFloat32);
    const memory::desc src1 = onednn::PlainDesc(swapped ? a_full : b_full, DataType::kFloat32);
    const memory::desc dst = onednn::PlainDesc(*y, DataType::kFloat32);
    dnnl::binary::desc desc(dnnl::algorithm::binary_add, src0, src1, dst);
    dnnl::binary::primitive_desc pd(desc, onednn::DefaultAttr(), onednn::CpuEngine());
    built.kernel = std::make_unique<BinaryKernel>(pd, swapped, node.Describe());
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

}  // namespace octet
