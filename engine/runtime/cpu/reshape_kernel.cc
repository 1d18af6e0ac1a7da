// Flatten and Reshape: the data is unchanged, only the shape; the kernel copies the bytes into
// the output buffer.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/kernel_registry.h"

namespace octet {
namespace {

class CopyKernel final : public Kernel {
 public:
  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    if (inputs[0]->byte_size() > 0) {
      std::memcpy(outputs[0]->raw_data(), inputs[0]->raw_data(), inputs[0]->byte_size());
    }
    return absl::OkStatus();
  }
};

BuiltKernel Copy(DataType type, Shape shape) {
  BuiltKernel built;
  built.kernel = std::make_unique<CopyKernel>();
  built.outputs.push_back({type, std::move(shape)});
  return built;
}

}  // namespace

absl::Status CheckFlatten(const Node& node, const Graph&) {
  if (node.inputs.size() != 1 || node.input(0).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": needs one input"));
  }
  return node.GetInt("axis", 1).status();
}

absl::StatusOr<BuiltKernel> BuildFlatten(const KernelBuildContext& context) {
  const TensorDesc& x = context.input(0);
  OCTET_ASSIGN_OR_RETURN(int64_t axis, context.node.GetInt("axis", 1));
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (axis < -rank || axis > rank) {
    return absl::InvalidArgumentError(absl::StrCat(context.node.Describe(), ": axis ", axis,
                                                   " is out of range for rank ", rank));
  }
  if (axis < 0) axis += rank;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i) (i < axis ? outer : inner) *= x.shape[i];
  return Copy(x.type, {outer, inner});
}

absl::Status CheckReshape(const Node& node, const Graph& graph) {
  if (node.inputs.size() != 2 || node.input(0).empty() || node.input(1).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": needs inputs data and shape (opset 5 or later)"));
  }
  const Tensor* shape = graph.FindConstant(node.input(1));
  if (shape == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": the target shape must be a constant"));
  }
  if (shape->type() != DataType::kInt64 || shape->rank() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": the target shape must be a 1-D int64 tensor"));
  }
  return absl::OkStatus();
}

absl::StatusOr<BuiltKernel> BuildReshape(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const Tensor* target = context.constant(1);
  if (target == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": the target shape must be a constant"));
  }
  OCTET_ASSIGN_OR_RETURN(int64_t allow_zero, node.GetInt("allowzero", 0));
  OCTET_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(x.shape));
  Shape shape(target->values<int64_t>().begin(), target->values<int64_t>().end());
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(node.Describe(), ": more than one -1 in the target shape"));
      }
      infer = static_cast<int>(i);
      continue;
    }
    if (shape[i] == 0 && !allow_zero) {
      if (i >= x.shape.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            node.Describe(), ": target dim ", i, " copies a dim the input does not have"));
      }
      shape[i] = x.shape[i];
    }
    if (shape[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": negative target dim ", shape[i]));
    }
    OCTET_ASSIGN_OR_RETURN(known, CheckedElementCount({known, shape[i]}));
  }
  if (infer >= 0) {
    if (known == 0 || count % known != 0) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": cannot reshape ",
                                                     ShapeToString(x.shape), " to ",
                                                     ShapeToString(shape)));
    }
    shape[infer] = count / known;
    known = count;
  }
  if (known != count) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": cannot reshape ",
                                                   ShapeToString(x.shape), " (", count,
                                                   " elements) to ", ShapeToString(shape)));
  }
  return Copy(x.type, std::move(shape));
}

}  // namespace octet
