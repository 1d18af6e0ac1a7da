// The unit of execution in a plan: one kernel per node (or fused group of nodes), built for
// concrete input shapes.
#ifndef OCTET_ENGINE_RUNTIME_KERNEL_H_
#define OCTET_ENGINE_RUNTIME_KERNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/ir/graph.h"
#include "engine/tensor/tensor.h"

namespace octet {

struct TensorDesc {
  DataType type = DataType::kFloat32;
  Shape shape;
  // 0: plain row-major. 8 or 16: oneDNN's channel-blocked layout nChw8c / nChw16c of a rank-4
  // tensor (channels padded up to the block), which consecutive oneDNN primitives pass to each
  // other without reordering. Only values inside a plan are blocked; graph inputs and outputs
  // never are.
  int channel_block = 0;
  // oneDNN's channels-last layout (nwc / nhwc / ndhwc) of a rank 3 to 5 tensor, which its int8
  // convolutions read and write; exclusive with channel_block.
  bool channels_last = false;

  bool plain() const { return channel_block == 0 && !channels_last; }
  // This layout for another type and shape (same rank).
  TensorDesc Like(DataType other_type, Shape other_shape) const {
    TensorDesc desc = *this;
    desc.type = other_type;
    desc.shape = std::move(other_shape);
    return desc;
  }

  bool operator==(const TensorDesc& other) const {
    return type == other.type && shape == other.shape && channel_block == other.channel_block &&
           channels_last == other.channels_last;
  }
};

// "uint8 [1, 64, 56, 56] channels-last", "float32 [1, 64, 56, 56] nChw8c", "float32 [1, 10]".
inline std::string ToString(const TensorDesc& desc) {
  std::string text = std::string(DataTypeName(desc.type)) + " " + ShapeToString(desc.shape);
  if (desc.channels_last) text += " channels-last";
  if (desc.channel_block != 0) text += " nChw" + std::to_string(desc.channel_block) + "c";
  return text;
}

// Offsets into a kernel's scratchpad are kept 64-byte aligned.
inline size_t AlignScratchpad(size_t bytes) { return (bytes + 63) / 64 * 64; }

// What one Run of a plan lends its kernels.
struct ExecutionContext {
  // Scratch memory of at least the largest scratchpad_bytes() of the plan's kernels, owned by
  // the Run (oneDNN's own scratchpad is per creating thread, so it is unsafe across threads).
  void* scratchpad = nullptr;
};

// A kernel is immutable once built: Run may be called from several threads at once, each with its
// own tensors and context.
class Kernel {
 public:
  virtual ~Kernel() = default;

  // REQUIRES: inputs and outputs have the descs the kernel was built for; an omitted optional
  // input is nullptr.
  virtual absl::Status Run(absl::Span<const Tensor* const> inputs,
                           absl::Span<Tensor* const> outputs, ExecutionContext& context) const = 0;

  // Scratch memory Run needs in ExecutionContext::scratchpad.
  virtual size_t scratchpad_bytes() const { return 0; }

  // What computes: oneDNN's implementation name for primitives ("jit:avx2",
  // "brgconv:avx512_core_vnni"), "octet:cpu" for Octet's own C++ kernels.
  virtual std::string implementation() const { return "octet:cpu"; }
};

// An activation fused into the kernel of the node before it (no intermediate tensor, no second
// pass over memory): y = activation(x) with ONNX's parameters.
struct FusedActivation {
  enum class Kind { kRelu, kLeakyRelu, kClip, kSigmoid, kTanh, kHardSwish, kElu };
  Kind kind;
  float alpha = 0.0f;  // LeakyRelu, Elu: alpha; Clip: min
  float beta = 0.0f;   // Clip: max
};

// What a kernel factory sees of a node when building for concrete shapes.
struct KernelBuildContext {
  const Node& node;
  // The model's default-domain opset, for ops whose meaning changed between opsets.
  int64_t opset;
  // One per node input; nullopt for an omitted optional input.
  std::vector<std::optional<TensorDesc>> inputs;
  // One per node input; the tensor when the input is a constant, else nullptr.
  std::vector<const Tensor*> constants;

  const TensorDesc& input(size_t i) const { return *inputs[i]; }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].has_value(); }
  const Tensor* constant(size_t i) const { return i < constants.size() ? constants[i] : nullptr; }

  // Set only for ops whose definition accepts fusion (OpDefinition::fuses_activation).
  std::optional<FusedActivation> activation;
  // Set only for ops whose definition accepts it (OpDefinition::sum_input): the node's result is
  // added to that input (a residual Add fused as oneDNN's sum post-op, before the activation). The
  // factory fails with UNIMPLEMENTED when it cannot write that input's layout in place; the plan
  // then builds the node without it.
  bool fuse_sum = false;
  // With fuse_sum: the Add node fused (its attributes, such as an int8 Add's activation).
  const Node* sum_node = nullptr;
};

struct BuiltKernel {
  std::unique_ptr<Kernel> kernel;
  std::vector<TensorDesc> outputs;
  // What a description of the plan should say beyond types and layouts (an int8 kernel's zero
  // points and scales), or "".
  std::string notes;
};

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_KERNEL_H_
