// How an op is defined for the runtime: its static check, its kernel factory and what the plan
// may fuse into it, with the helpers checks and factories share. Kernel families (cpu/, onednn/)
// include this; the table of every op is kernel_registry.h.
#ifndef OCTET_ENGINE_RUNTIME_OP_DEFINITION_H_
#define OCTET_ENGINE_RUNTIME_OP_DEFINITION_H_

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/ir/graph.h"
#include "engine/runtime/kernel.h"

namespace octet {

// What an op's check sees of a node before shapes are known.
struct CheckContext {
  const Node& node;
  const Graph& graph;
  // Values known when a plan is built: constants, Shape outputs, and what is computed only from
  // those (plans fold them).
  const absl::flat_hash_set<std::string>& plan_constants;

  bool has_input(size_t i) const { return !node.input(i).empty(); }
  std::optional<DataType> type(size_t i) const { return graph.TypeOf(node.input(i)); }
  bool is_plan_constant(size_t i) const { return plan_constants.contains(node.input(i)); }
};

// One way to compute an op (Octet's own kernel, a oneDNN primitive, ...).
struct Implementation {
  // How descriptions and refusals name it ("octet:int8 depthwise", "onednn").
  absl::string_view name;
  // OK when it computes the node here exactly as the op is defined; otherwise why not. nullptr:
  // always. The int8 lowering asks it before shapes are known (the context's input descs then
  // have types and empty shapes; constants are there), so a predicate an op's lowering depends on
  // reads only types, constants and attributes.
  absl::Status (*applies)(const KernelBuildContext& context) = nullptr;
  absl::StatusOr<BuiltKernel> (*build)(const KernelBuildContext& context) = nullptr;
};

struct OpDefinition {
  absl::string_view op_type;
  // INVALID_ARGUMENT naming the node, tagged (engine/base/unsupported.h) when it is a matter of
  // support rather than a malformed model.
  absl::Status (*check)(const CheckContext& context);
  // The factory of an op with one way to compute it; nullptr when `implementations` lists them.
  absl::StatusOr<BuiltKernel> (*build)(const KernelBuildContext& context);
  // Bit i set: input i's value must be known when the plan is built (a shape, axes, bounds).
  // CheckGraphSupported enforces it; the factory then finds it in context.constant(i).
  uint32_t value_inputs = 0;
  // The factory applies KernelBuildContext::activation, so a following activation can be fused.
  bool fuses_activation = false;
  // "" for ONNX's default domain; kOctetDomain for the runtime's own ops, which only its passes
  // create after CheckGraphSupported (which refuses them in a model).
  absl::string_view domain = "";
  // Whether the factory takes these inputs in the layouts they have when one is not plain
  // (TensorDesc::channel_block, channels_last); nullptr: never. The plan reorders such values to
  // plain for ops that do not.
  bool (*takes_blocked)(const KernelBuildContext& context) = nullptr;
  // When not negative, the factory applies KernelBuildContext::fuse_sum, so a following Add can be
  // fused: the plan passes the Add's other operand as input `sum_input` (omitting optional inputs
  // before it as needed).
  int sum_input = -1;
  // The Add fused that way, in this op's domain: ONNX's Add(a, b) after a float op, whose other
  // operand is passed; ai.octet.Int8Add(a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero)
  // after an int8 op, which passes from `sum_input` on: the other operand, its scale and zero
  // point, the scale and zero point the Add reads the node's own result with, the Add's output
  // scale and zero point.
  absl::string_view sum_op = "Add";
  // Ways to compute the op, preferred first: the first that applies builds the kernel
  // (BuildKernel). Empty for an op with one way, `build`.
  std::vector<Implementation> implementations = {};
};

// The implementation of `op` that builds `context`'s kernel: the first of op.implementations that
// applies (or nullptr for an op with one way, `build`); UNIMPLEMENTED naming each one's reason
// when none applies.
absl::StatusOr<const Implementation*> ChooseImplementation(const OpDefinition& op,
                                                           const KernelBuildContext& context);

// The kernel of `context`'s node, built by the implementation ChooseImplementation picks.
absl::StatusOr<BuiltKernel> BuildKernel(const OpDefinition& op, const KernelBuildContext& context);

// takes_blocked for ops that take any layout.
bool AnyLayout(const KernelBuildContext& context);

// The domain of the ops Octet's graph passes create (int8 lowering).
inline constexpr absl::string_view kOctetDomain = "ai.octet";

// The reorder the plan inserts before an op that reads plain tensors (ai.octet.ToPlain).
inline constexpr absl::string_view kToPlainOp = "ToPlain";

// Helpers for checks and factories.

// Unless input `i` is absent or its known type is one of `allowed`: INVALID_ARGUMENT tagged
// kElementType.
absl::Status RequireInputType(const CheckContext& context, size_t i,
                              std::initializer_list<DataType> allowed);
// INVALID_ARGUMENT naming the node unless it has between `min` and `max` inputs, the first
// `required` of them present.
absl::Status RequireInputCount(const Node& node, size_t min, size_t max, size_t required);
// INVALID_ARGUMENT naming the node unless its auto_pad attribute (if any) is an ONNX value.
absl::Status CheckAutoPad(const Node& node);
// The values of a constant 1-D int64 input, or of an ints attribute for older opsets.
absl::StatusOr<std::vector<int64_t>> ConstantInts(const KernelBuildContext& context, size_t input);
// The value of a one-element float32, uint8 or int8 constant (a scale or zero point); 0 for nullptr
// or another type.
inline float ScalarParameter(const Tensor* t) {
  if (t == nullptr) return 0.0f;
  switch (t->type()) {
    case DataType::kFloat32:
      return t->data<float>()[0];
    case DataType::kUint8:
      return t->data<uint8_t>()[0];
    case DataType::kInt8:
      return t->data<int8_t>()[0];
    default:
      return 0.0f;
  }
}

// `axis` in [-rank, rank) made non-negative, or INVALID_ARGUMENT naming the node.
absl::StatusOr<int64_t> NormalizeAxis(const Node& node, int64_t axis, int64_t rank);

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_OP_DEFINITION_H_
