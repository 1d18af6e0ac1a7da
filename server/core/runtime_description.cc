#include "server/core/runtime_description.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/cpu/cpu_features.h"

namespace octet::server {
namespace {

constexpr int64_t kMaxBatch = 4096;
// The description builds zero inputs of the described shapes.
constexpr int64_t kMaxInputBytes = int64_t{256} << 20;

// Zero inputs of the shapes the request describes for `session`.
absl::StatusOr<std::vector<NamedTensor>> ZeroInputs(
    const Session& session, const octet::v1::DescribeRuntimeRequest& request, int64_t batch) {
  std::map<std::string, std::vector<int64_t>> given;
  for (const octet::v1::InputShape& shape : request.input_shapes()) {
    const bool known = std::any_of(session.inputs().begin(), session.inputs().end(),
                                   [&](const ValueInfo& v) { return v.name == shape.name(); });
    if (!known)
      return absl::InvalidArgumentError(
          absl::StrCat("input_shapes names unknown input '", shape.name(), "'"));
    if (!given.emplace(shape.name(), std::vector<int64_t>(shape.dims().begin(), shape.dims().end()))
             .second) {
      return absl::InvalidArgumentError(
          absl::StrCat("input_shapes names '", shape.name(), "' twice"));
    }
  }
  std::vector<NamedTensor> inputs;
  int64_t bytes = 0;
  for (const ValueInfo& input : session.inputs()) {
    Shape shape;
    auto it = given.find(input.name);
    const size_t rank = input.shape.has_value() ? input.shape->size() : 0;
    if (it != given.end()) {
      shape = it->second;
      if (input.shape.has_value() && shape.size() != rank) {
        return absl::InvalidArgumentError(absl::StrCat("input '", input.name, "' has rank ", rank,
                                                       ", input_shapes gives ", shape.size(),
                                                       " dimensions"));
      }
    } else if (!input.shape.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", input.name, "' has no declared shape: give it in input_shapes"));
    }
    for (size_t d = 0; d < rank; ++d) {
      const Dim& dim = (*input.shape)[d];
      if (it == given.end()) {
        if (dim.is_static()) {
          shape.push_back(dim.size);
        } else if (d == 0) {
          shape.push_back(batch);
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat("input '", input.name, "' dimension ", d,
                           " is dynamic: give the input's shape in input_shapes"));
        }
      } else if (dim.is_static() && shape[d] != dim.size) {
        return absl::InvalidArgumentError(absl::StrCat("input '", input.name, "' dimension ", d,
                                                       " is ", dim.size, ", input_shapes gives ",
                                                       shape[d]));
      }
    }
    int64_t count = 1;
    for (int64_t d : shape) {
      if (d < 1 || d > kMaxInputBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("input '", input.name, "' dimension ", d, " is out of range"));
      }
      count *= d;
      if (count > kMaxInputBytes) break;
    }
    bytes += count * static_cast<int64_t>(ElementSize(input.type));
    if (count > kMaxInputBytes || bytes > kMaxInputBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("the inputs described exceed ", kMaxInputBytes >> 20, " MiB"));
    }
    OCTET_ASSIGN_OR_RETURN(Tensor tensor, Tensor::Create(input.type, shape));
    inputs.emplace_back(input.name, std::move(tensor));
  }
  return inputs;
}

}  // namespace

absl::StatusOr<octet::v1::ModelRuntime> DescribeRuntime(
    const LoadedModel& model, const octet::v1::DescribeRuntimeRequest& request) {
  if (request.batch_size() < 0 || request.batch_size() > kMaxBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be 0 to ", kMaxBatch, ", got ", request.batch_size()));
  }
  const Session& session = *model.session;
  const int64_t batch = request.batch_size() == 0 ? 1 : request.batch_size();
  OCTET_ASSIGN_OR_RETURN(const std::vector<NamedTensor> inputs,
                         ZeroInputs(session, request, batch));
  OCTET_ASSIGN_OR_RETURN(const std::vector<StepDescription> steps, session.Describe(inputs));
  octet::v1::ModelRuntime description;
  description.set_name(model.version.name());
  description.set_version(model.version.version());
  description.set_cpu(cpu::Cpu().Describe());
  description.set_description(model.version.description());
  for (const StepDescription& step : steps) {
    octet::v1::RuntimeStep* out = description.add_steps();
    out->set_nodes(step.nodes);
    out->set_op_type(step.op_type);
    out->set_implementation(step.implementation);
    for (const TensorDesc& d : step.inputs) out->add_inputs(ToString(d));
    for (const TensorDesc& d : step.outputs) out->add_outputs(ToString(d));
    out->set_notes(step.notes);
  }
  for (const std::string& node : session.int8_nodes()) description.add_int8_nodes(node);
  for (const std::string& node : session.simulated_nodes()) description.add_simulated_nodes(node);
  return description;
}

}  // namespace octet::server
