#include "engine/runtime/op_definition.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"

namespace octet {
namespace {

std::string TypeNames(std::initializer_list<DataType> types) {
  return absl::StrJoin(types, ", ",
                       [](std::string* out, DataType t) { absl::StrAppend(out, DataTypeName(t)); });
}

}  // namespace

bool AnyLayout(const KernelBuildContext&) { return true; }

absl::Status RequireInputType(const CheckContext& context, size_t i,
                              std::initializer_list<DataType> allowed) {
  if (!context.has_input(i)) return absl::OkStatus();
  const std::optional<DataType> type = context.type(i);
  if (!type.has_value() || std::find(allowed.begin(), allowed.end(), *type) != allowed.end()) {
    return absl::OkStatus();
  }
  return UnsupportedError(UnsupportedKind::kElementType,
                          absl::StrCat(context.node.Describe(), ": input ", i, " is ",
                                       DataTypeName(*type), "; supported: ", TypeNames(allowed)));
}

absl::Status RequireInputCount(const Node& node, size_t min, size_t max, size_t required) {
  if (node.inputs.size() < min || node.inputs.size() > max) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), " has ", node.inputs.size(),
                                                   " inputs; expected ", min, " to ", max));
  }
  for (size_t i = 0; i < required; ++i) {
    if (node.inputs[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": input ", i, " is required"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckAutoPad(const Node& node) {
  OCTET_ASSIGN_OR_RETURN(std::string auto_pad, node.GetString("auto_pad", "NOTSET"));
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" &&
      auto_pad != "SAME_LOWER") {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": auto_pad '", auto_pad, "' is not an ONNX value"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> ConstantInts(const KernelBuildContext& context, size_t input) {
  const Tensor* t = context.constant(input);
  if (t == nullptr || (t->type() != DataType::kInt64 && t->type() != DataType::kInt32) ||
      t->rank() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(context.node.Describe(), ": input ", input,
                                                   " must be a constant 1-D integer tensor"));
  }
  std::vector<int64_t> values(t->element_count());
  for (int64_t i = 0; i < t->element_count(); ++i) {
    values[i] = t->type() == DataType::kInt64 ? t->data<int64_t>()[i] : t->data<int32_t>()[i];
  }
  return values;
}

absl::StatusOr<int64_t> NormalizeAxis(const Node& node, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": axis ", axis, " is out of range for rank ", rank));
  }
  return axis < 0 ? axis + rank : axis;
}

absl::StatusOr<const Implementation*> ChooseImplementation(const OpDefinition& op,
                                                           const KernelBuildContext& context) {
  if (op.implementations.empty()) return nullptr;
  std::vector<std::string> reasons;
  for (const Implementation& implementation : op.implementations) {
    const absl::Status applies =
        implementation.applies != nullptr ? implementation.applies(context) : absl::OkStatus();
    if (applies.ok()) return &implementation;
    reasons.push_back(absl::StrCat(implementation.name, ": ", applies.message()));
  }
  return absl::UnimplementedError(absl::StrCat(context.node.Describe(),
                                               ": no implementation computes it exactly here (",
                                               absl::StrJoin(reasons, "; "), ")"));
}

absl::StatusOr<BuiltKernel> BuildKernel(const OpDefinition& op, const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(const Implementation* implementation, ChooseImplementation(op, context));
  return implementation != nullptr ? implementation->build(context) : op.build(context);
}

}  // namespace octet
