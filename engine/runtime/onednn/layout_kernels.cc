#include "engine/runtime/onednn/layout_kernels.h"

#include "engine/runtime/onednn/onednn_common.h"

namespace octet::onednn {
namespace {

class ReorderKernel final : public PrimitiveKernel {
 public:
  explicit ReorderKernel(const dnnl::reorder::primitive_desc& pd)
      : PrimitiveKernel(dnnl::reorder(pd), pd, "layout reorder"),
        from_(pd.src_desc()),
        to_(pd.dst_desc()) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    return Execute(
        {{DNNL_ARG_FROM, Wrap(from_, *inputs[0])}, {DNNL_ARG_TO, Wrap(to_, *outputs[0])}}, context);
  }

 private:
  dnnl::memory::desc from_, to_;
};

}  // namespace

absl::StatusOr<BuiltKernel> MakeToPlainKernel(const TensorDesc& blocked) {
  TensorDesc plain = blocked;
  plain.channel_block = 0;
  plain.channels_last = false;
  try {
    const dnnl::reorder::primitive_desc pd(CpuEngine(), DescOf(blocked), CpuEngine(), DescOf(plain),
                                           DefaultAttr());
    BuiltKernel built;
    built.kernel = std::make_unique<ReorderKernel>(pd);
    built.outputs.push_back(plain);
    return built;
  } catch (const dnnl::error& e) {
    return ToStatus(e, "layout reorder");
  }
}

}  // namespace octet::onednn
