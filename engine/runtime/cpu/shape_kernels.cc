// Ops that change only the shape, or report it: Flatten, Reshape, Squeeze, Unsqueeze, Identity,
// Dropout (inference), Shape. Data moves by one memcpy at most.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/op_families.h"

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

absl::Status CheckOneInput(const CheckContext& context) {
  return RequireInputCount(context.node, 1, 1, 1);
}

absl::StatusOr<BuiltKernel> BuildIdentity(const KernelBuildContext& context) {
  return Copy(context.input(0).type, context.input(0).shape);
}

absl::StatusOr<BuiltKernel> BuildFlatten(const KernelBuildContext& context) {
  const TensorDesc& x = context.input(0);
  OCTET_ASSIGN_OR_RETURN(int64_t axis, context.node.GetInt("axis", 1));
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (axis < -rank || axis > rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(context.node.Describe(), ": axis ", axis, " is out of range for rank ", rank));
  }
  if (axis < 0) axis += rank;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i) (i < axis ? outer : inner) *= x.shape[i];
  return Copy(x.type, {outer, inner});
}

absl::Status CheckReshape(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 2, 2, 2));
  return RequireInputType(context, 1, {DataType::kInt64});
}

absl::StatusOr<BuiltKernel> BuildReshape(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  OCTET_ASSIGN_OR_RETURN(Shape shape, ConstantInts(context, 1));
  OCTET_ASSIGN_OR_RETURN(int64_t allow_zero, node.GetInt("allowzero", 0));
  OCTET_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(x.shape));
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
        return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": target dim ", i,
                                                       " copies a dim the input does not have"));
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

// Squeeze and Unsqueeze take axes as an attribute before opset 13 and as an input after.
absl::Status CheckAxesOp(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 1, 2, 1));
  return RequireInputType(context, 1, {DataType::kInt64});
}

absl::StatusOr<std::optional<std::vector<int64_t>>> ReadAxes(const KernelBuildContext& context) {
  if (context.has_input(1)) {
    OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> axes, ConstantInts(context, 1));
    return std::optional<std::vector<int64_t>>(std::move(axes));
  }
  if (context.node.HasAttribute("axes")) {
    OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> axes, context.node.GetInts("axes", {}));
    return std::optional<std::vector<int64_t>>(std::move(axes));
  }
  return std::optional<std::vector<int64_t>>();
}

absl::StatusOr<BuiltKernel> BuildSqueeze(const KernelBuildContext& context) {
  const TensorDesc& x = context.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  OCTET_ASSIGN_OR_RETURN(std::optional<std::vector<int64_t>> axes, ReadAxes(context));
  std::vector<bool> drop(rank, false);
  if (!axes.has_value()) {
    for (int64_t i = 0; i < rank; ++i) drop[i] = x.shape[i] == 1;
  } else {
    for (int64_t axis : *axes) {
      OCTET_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(context.node, axis, rank));
      if (x.shape[a] != 1) {
        return absl::InvalidArgumentError(absl::StrCat(context.node.Describe(), ": dim ", a, " of ",
                                                       ShapeToString(x.shape), " is not 1"));
      }
      drop[a] = true;
    }
  }
  Shape y;
  for (int64_t i = 0; i < rank; ++i) {
    if (!drop[i]) y.push_back(x.shape[i]);
  }
  return Copy(x.type, std::move(y));
}

absl::StatusOr<BuiltKernel> BuildUnsqueeze(const KernelBuildContext& context) {
  const TensorDesc& x = context.input(0);
  OCTET_ASSIGN_OR_RETURN(std::optional<std::vector<int64_t>> axes, ReadAxes(context));
  if (!axes.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(context.node.Describe(), ": axes missing"));
  }
  const int64_t rank = static_cast<int64_t>(x.shape.size() + axes->size());
  std::vector<bool> inserted(rank, false);
  for (int64_t axis : *axes) {
    OCTET_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(context.node, axis, rank));
    if (inserted[a]) {
      return absl::InvalidArgumentError(
          absl::StrCat(context.node.Describe(), ": axis ", axis, " repeated"));
    }
    inserted[a] = true;
  }
  Shape y;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) y.push_back(inserted[i] ? 1 : x.shape[next++]);
  return Copy(x.type, std::move(y));
}

// Dropout at inference: the output is the input; the optional mask is all true.
class DropoutKernel final : public Kernel {
 public:
  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    if (inputs[0]->byte_size() > 0) {
      std::memcpy(outputs[0]->raw_data(), inputs[0]->raw_data(), inputs[0]->byte_size());
    }
    if (outputs.size() > 1 && outputs[1] != nullptr) {
      std::fill_n(outputs[1]->data<bool>(), outputs[1]->element_count(), true);
    }
    return absl::OkStatus();
  }
};

absl::Status CheckDropout(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 1, 3, 1));
  if (!context.has_input(2)) return absl::OkStatus();
  const Tensor* training = context.graph.FindConstant(context.node.input(2));
  if (training == nullptr || training->type() != DataType::kBool ||
      training->element_count() != 1 || training->data<bool>()[0]) {
    return UnsupportedError(UnsupportedKind::kSequenceStringOrTraining,
                            absl::StrCat(context.node.Describe(), ": training mode"));
  }
  return absl::OkStatus();
}

absl::StatusOr<BuiltKernel> BuildDropout(const KernelBuildContext& context) {
  BuiltKernel built;
  built.kernel = std::make_unique<DropoutKernel>();
  built.outputs.push_back(context.input(0));
  built.outputs.push_back({DataType::kBool, context.input(0).shape});
  return built;
}

class ShapeKernel final : public Kernel {
 public:
  explicit ShapeKernel(Shape values) : values_(std::move(values)) {}
  absl::Status Run(absl::Span<const Tensor* const>, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    std::copy(values_.begin(), values_.end(), outputs[0]->data<int64_t>());
    return absl::OkStatus();
  }

 private:
  Shape values_;
};

absl::StatusOr<BuiltKernel> BuildShape(const KernelBuildContext& context) {
  const Shape& dims = context.input(0).shape;
  const int64_t rank = static_cast<int64_t>(dims.size());
  OCTET_ASSIGN_OR_RETURN(int64_t start, context.node.GetInt("start", 0));
  OCTET_ASSIGN_OR_RETURN(int64_t end, context.node.GetInt("end", rank));
  // Opset 15 slicing: negative counts from the back, then clamped.
  auto clamp = [rank](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
  start = clamp(start);
  end = clamp(end);
  Shape values(dims.begin() + start, dims.begin() + std::max(start, end));
  BuiltKernel built;
  built.outputs.push_back({DataType::kInt64, {static_cast<int64_t>(values.size())}});
  built.kernel = std::make_unique<ShapeKernel>(std::move(values));
  return built;
}

}  // namespace

std::vector<OpDefinition> ShapeOps() {
  return {
      {"Dropout", CheckDropout, BuildDropout},
      {"Flatten", CheckOneInput, BuildFlatten},
      {"Identity", CheckOneInput, BuildIdentity},
      {"Reshape", CheckReshape, BuildReshape, 0b10},
      {"Shape", CheckOneInput, BuildShape, 0, false, "", AnyLayout},
      {"Squeeze", CheckAxesOp, BuildSqueeze, 0b10},
      {"Unsqueeze", CheckAxesOp, BuildUnsqueeze, 0b10},
  };
}

}  // namespace octet
