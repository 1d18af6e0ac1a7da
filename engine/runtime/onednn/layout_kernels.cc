// ai.octet.ToPlain: the reorder the plan inserts between a channel-blocked or channels-last value
// and an op that reads plain tensors.
#include "absl/strings/str_cat.h"
#include "engine/runtime/onednn/onednn_common.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

class ReorderKernel final : public onednn::PrimitiveKernel {
 public:
  explicit ReorderKernel(const dnnl::reorder::primitive_desc& pd)
      : PrimitiveKernel(dnnl::reorder(pd), pd, "layout reorder"),
        from_(pd.src_desc()),
        to_(pd.dst_desc()) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    return Execute({{DNNL_ARG_FROM, onednn::Wrap(from_, *inputs[0])},
                    {DNNL_ARG_TO, onednn::Wrap(to_, *outputs[0])}},
                   context);
  }

 private:
  dnnl::memory::desc from_, to_;
};

absl::Status CheckToPlain(const CheckContext& context) {
  return RequireInputCount(context.node, 1, 1, 1);
}

absl::StatusOr<BuiltKernel> BuildToPlain(const KernelBuildContext& context) {
  const TensorDesc& from = context.input(0);
  TensorDesc plain = from;
  plain.channel_block = 0;
  plain.channels_last = false;
  try {
    const dnnl::reorder::primitive_desc pd(onednn::CpuEngine(), onednn::DescOf(from),
                                           onednn::CpuEngine(), onednn::DescOf(plain),
                                           onednn::DefaultAttr());
    BuiltKernel built;
    built.kernel = std::make_unique<ReorderKernel>(pd);
    built.outputs.push_back(plain);
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, absl::StrCat("layout reorder of ", ToString(from)));
  }
}

}  // namespace

std::vector<OpDefinition> LayoutOps() {
  OpDefinition to_plain{kToPlainOp, CheckToPlain, BuildToPlain};
  to_plain.domain = kOctetDomain;
  to_plain.takes_blocked = AnyLayout;
  return {to_plain};
}

}  // namespace octet
