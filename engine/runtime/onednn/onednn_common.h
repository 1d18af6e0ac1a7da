// Shared by the oneDNN kernels; the only place besides those kernels that includes dnnl.hpp.
#ifndef OCTET_ENGINE_RUNTIME_ONEDNN_ONEDNN_COMMON_H_
#define OCTET_ENGINE_RUNTIME_ONEDNN_ONEDNN_COMMON_H_

#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dnnl.hpp"
#include "engine/runtime/kernel.h"
#include "engine/runtime/op_definition.h"
#include "engine/tensor/tensor.h"

namespace octet::onednn {

// The process-wide CPU engine.
const dnnl::engine& CpuEngine();

// The calling thread's stream on CpuEngine(). A CPU stream holds no memory, and one per thread
// lets concurrent Runs execute primitives without sharing one; kernels take it here rather than
// from the plan, so that nothing outside this folder knows oneDNN has streams.
dnnl::stream& ThreadStream();

// Converts a dnnl::error thrown while building for `what` into a Status. oneDNN reports
// unsupported configurations as dnnl_unimplemented, which becomes UNIMPLEMENTED.
absl::Status ToStatus(const dnnl::error& error, const std::string& what);

std::optional<dnnl::memory::data_type> ToOneDnn(DataType type);

// A plain row-major descriptor.
dnnl::memory::desc PlainDesc(const Shape& shape, DataType type);

// The descriptor of a value in its layout (plain, channel-blocked or channels-last).
dnnl::memory::desc DescOf(const TensorDesc& desc);

// 8 or 16 when `desc` is the nChw8c / nChw16c layout of a rank-4 tensor, else 0.
int ChannelBlockOf(const dnnl::memory::desc& desc, const Shape& shape, DataType type);

// The TensorDesc of a value laid out as `desc`: channel-blocked, channels-last, or else plain
// (for any other layout too: DescOf of the result then differs from `desc`, and the caller
// reorders).
TensorDesc LayoutOf(const dnnl::memory::desc& desc, const Shape& shape, DataType type);

// Wraps `tensor`'s buffer without copying. REQUIRES: the tensor outlives the memory.
dnnl::memory Wrap(const dnnl::memory::desc& desc, const Tensor& tensor);

// Reorders `source` (in `from` layout) into a new tensor laid out as `to` wants; the result holds
// to.get_size() bytes.
absl::StatusOr<Tensor> ReorderConstant(const Tensor& source, const dnnl::memory::desc& from,
                                       const dnnl::memory::desc& to);

// Appends `activation` as an eltwise post-op.
void AppendActivation(const FusedActivation& activation, dnnl::post_ops& ops);

// Attributes every primitive starts from: the scratchpad is the caller's (ExecutionContext), so
// a primitive may run on any thread.
dnnl::primitive_attr DefaultAttr();

// A kernel that runs one oneDNN primitive.
class PrimitiveKernel : public Kernel {
 public:
  size_t scratchpad_bytes() const override { return scratchpad_.get_size(); }
  std::string implementation() const override { return implementation_; }

 protected:
  // REQUIRES: `pd` was created with DefaultAttr() (or attributes derived from it).
  PrimitiveKernel(dnnl::primitive primitive, const dnnl::primitive_desc_base& pd, std::string what)
      : primitive_(std::move(primitive)),
        scratchpad_(pd.scratchpad_desc()),
        what_(std::move(what)),
        implementation_(pd.impl_info_str()) {}

  // Executes with `args` plus the scratchpad; a dnnl::error becomes a Status.
  absl::Status Execute(std::unordered_map<int, dnnl::memory> args, ExecutionContext& context) const;

 private:
  dnnl::primitive primitive_;
  dnnl::memory::desc scratchpad_;
  std::string what_;
  std::string implementation_;
};

// A reorder from `from` to `to`; raises `*shared_bytes` to the scratchpad it needs (kernels that
// wrap their primitive in reorders share one scratch area among them). `attr` derives from
// DefaultAttr() (user scratchpad), adding scales or zero points where the reorder requantizes.
dnnl::reorder MakeReorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to,
                          size_t* shared_bytes, const dnnl::primitive_attr& attr = DefaultAttr());

// The activation an int8 lowering fused into a node (attributes "activation", "activation_alpha",
// "activation_beta": LeakyRelu's alpha, Clip's bounds in real units).
struct Int8Activation {
  std::string kind;  // "" for none
  float alpha = 0.0f, beta = 0.0f;
  // Relu, LeakyRelu and Clip commute with a positive rescale, so they run on the result already
  // in output units; HardSwish and Sigmoid need it in real units (then rescaled by 1 / y_scale).
  bool in_real_units() const { return kind == "HardSwish" || kind == "Sigmoid"; }
};
absl::StatusOr<Int8Activation> ReadInt8Activation(const Node& node);
// Appends the activation's post-ops for a result in output units (real units when
// in_real_units(), followed then by the rescale to output units). INVALID_ARGUMENT for an
// unknown kind.
absl::Status AppendInt8Activation(const Int8Activation& activation, float y_scale,
                                  dnnl::post_ops& ops, const Node& node);
using ::octet::ScalarParameter;

// A primitive that reads one tensor and writes one (eltwise, softmax, pooling), in the layouts
// its primitive descriptor holds.
class SrcDstKernel final : public PrimitiveKernel {
 public:
  SrcDstKernel(dnnl::primitive primitive, const dnnl::primitive_desc_base& pd, std::string what)
      : PrimitiveKernel(std::move(primitive), pd, std::move(what)),
        src_(pd.src_desc()),
        dst_(pd.dst_desc()) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    return Execute(
        {{DNNL_ARG_SRC, Wrap(src_, *inputs[0])}, {DNNL_ARG_DST, Wrap(dst_, *outputs[0])}}, context);
  }

 private:
  dnnl::memory::desc src_, dst_;
};

// A kernel with nothing to do (an op over a tensor with no elements).
class NoOpKernel final : public Kernel {
 public:
  absl::Status Run(absl::Span<const Tensor* const>, absl::Span<Tensor* const>,
                   ExecutionContext&) const override {
    return absl::OkStatus();
  }
};

}  // namespace octet::onednn

#endif  // OCTET_ENGINE_RUNTIME_ONEDNN_ONEDNN_COMMON_H_
