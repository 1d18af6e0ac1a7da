#include "engine/runtime/session.h"

#include <omp.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/kernel_registry.h"
#include "engine/runtime/lowering/int8_lowering.h"

namespace octet {
namespace {

// Sets the calling thread's OpenMP team size for its scope, then restores it.
class ScopedOpenMpThreads {
 public:
  explicit ScopedOpenMpThreads(int threads) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~ScopedOpenMpThreads() { omp_set_num_threads(previous_); }
  ScopedOpenMpThreads(const ScopedOpenMpThreads&) = delete;
  ScopedOpenMpThreads& operator=(const ScopedOpenMpThreads&) = delete;

 private:
  int previous_;
};

std::string DeclaredShape(const ValueInfo& info) {
  if (!info.shape.has_value()) return "any shape";
  return absl::StrCat("[",
                      absl::StrJoin(*info.shape, ", ",
                                    [](std::string* out, const Dim& d) {
                                      absl::StrAppend(out, d.is_static()
                                                               ? absl::StrCat(d.size)
                                                               : (d.name.empty() ? "?" : d.name));
                                    }),
                      "]");
}

absl::Status CheckInputFits(const ValueInfo& info, const Tensor& tensor) {
  if (tensor.type() != info.type) {
    return absl::InvalidArgumentError(absl::StrCat("input '", info.name, "' must be ",
                                                   DataTypeName(info.type), ", got ",
                                                   DataTypeName(tensor.type())));
  }
  if (!info.shape.has_value()) return absl::OkStatus();
  bool fits = tensor.rank() == static_cast<int64_t>(info.shape->size());
  for (size_t i = 0; fits && i < info.shape->size(); ++i) {
    const Dim& d = (*info.shape)[i];
    fits = !d.is_static() || d.size == tensor.dim(i);
  }
  if (!fits) {
    return absl::InvalidArgumentError(absl::StrCat("input '", info.name, "' must have shape ",
                                                   DeclaredShape(info), ", got ",
                                                   ShapeToString(tensor.shape())));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Session>> Session::Create(Graph graph, SessionOptions options) {
  if (options.num_threads < 1) return absl::InvalidArgumentError("num_threads must be positive");
  if (options.plan_cache_capacity < 1) {
    return absl::InvalidArgumentError("plan_cache_capacity must be positive");
  }
  OCTET_RETURN_IF_ERROR(CheckGraphSupported(graph));
  std::vector<std::string> int8_nodes, simulated_nodes;
  if (options.lower_int8) {
    Int8Lowering lowering = LowerQdqToInt8(graph);
    graph = std::move(lowering.graph);
    int8_nodes = std::move(lowering.lowered);
    simulated_nodes = std::move(lowering.kept_float);
  }
  std::vector<int> value_inputs = AnalyzePlanConstants(graph).value_inputs;
  const bool eager = value_inputs.empty();
  std::unique_ptr<Session> session(new Session(std::move(graph), options, std::move(value_inputs)));
  session->int8_nodes_ = std::move(int8_nodes);
  session->simulated_nodes_ = std::move(simulated_nodes);
  if (!eager) return session;
  // With every shape static, the one plan is built now: errors surface at load, not at the
  // first request.
  std::vector<Tensor> placeholders;
  for (const ValueInfo& input : session->graph_.inputs) {
    if (!input.shape.has_value()) return session;
    Shape shape;
    for (const Dim& d : *input.shape) {
      if (!d.is_static()) return session;
      shape.push_back(d.size);
    }
    OCTET_ASSIGN_OR_RETURN(Tensor t, Tensor::Create(input.type, shape));
    placeholders.push_back(std::move(t));
  }
  std::vector<const Tensor*> pointers;
  for (const Tensor& t : placeholders) pointers.push_back(&t);
  OCTET_RETURN_IF_ERROR(session->GetPlan(pointers).status());
  return session;
}

absl::StatusOr<std::shared_ptr<const Plan>> Session::GetPlan(
    const std::vector<const Tensor*>& inputs) const {
  PlanKey key;
  for (const Tensor* t : inputs) key.descs.push_back({t->type(), t->shape()});
  for (int i : value_inputs_) {
    key.values.append(static_cast<const char*>(inputs[i]->raw_data()), inputs[i]->byte_size());
  }
  {
    absl::MutexLock lock(&mu_);
    for (auto it = plans_.begin(); it != plans_.end(); ++it) {
      if (it->first == key) {
        plans_.splice(plans_.begin(), plans_, it);
        return plans_.front().second;
      }
    }
  }
  // Built outside the lock so that other shapes are not held up; a concurrent build of the same
  // shape wastes work but stays correct.
  std::vector<std::pair<int, Tensor>> values;
  for (int i : value_inputs_) values.emplace_back(i, *inputs[i]);
  // oneDNN fixes a primitive's thread count (its work partition) when the primitive is created:
  // the plan's primitives are made with the session's, whatever thread builds them.
  absl::StatusOr<std::unique_ptr<Plan>> built;
  {
    ScopedOpenMpThreads threads(options_.num_threads);
    built = Plan::Build(graph_, key.descs, values, options_.profile);
  }
  if (!built.ok()) return built.status();
  std::shared_ptr<const Plan> plan = *std::move(built);
  absl::MutexLock lock(&mu_);
  plans_.emplace_front(std::move(key), plan);
  while (plans_.size() > options_.plan_cache_capacity) plans_.pop_back();
  return plan;
}

size_t Session::cached_plan_count() const {
  absl::MutexLock lock(&mu_);
  return plans_.size();
}

absl::StatusOr<std::vector<const Tensor*>> Session::OrderInputs(
    absl::Span<const NamedTensor> inputs) const {
  std::vector<const Tensor*> ordered(graph_.inputs.size(), nullptr);
  for (const auto& [name, tensor] : inputs) {
    size_t index = 0;
    while (index < graph_.inputs.size() && graph_.inputs[index].name != name) ++index;
    if (index == graph_.inputs.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown input '", name, "'; the model's inputs are: ",
          absl::StrJoin(graph_.inputs, ", ",
                        [](std::string* out, const ValueInfo& v) { out->append(v.name); })));
    }
    if (ordered[index] != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("input '", name, "' is given twice"));
    }
    OCTET_RETURN_IF_ERROR(CheckInputFits(graph_.inputs[index], tensor));
    ordered[index] = &tensor;
  }
  for (size_t i = 0; i < ordered.size(); ++i) {
    if (ordered[i] == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing input '", graph_.inputs[i].name, "'"));
    }
  }
  return ordered;
}

absl::StatusOr<std::vector<StepDescription>> Session::Describe(
    absl::Span<const NamedTensor> inputs) const {
  OCTET_ASSIGN_OR_RETURN(std::vector<const Tensor*> ordered, OrderInputs(inputs));
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, GetPlan(ordered));
  return plan->Describe();
}

absl::StatusOr<std::vector<Tensor>> Session::Run(absl::Span<const NamedTensor> inputs,
                                                 absl::Span<const std::string> output_names) const {
  return Run(inputs, output_names, nullptr);
}

absl::Status Session::RunInto(absl::Span<const NamedTensor> inputs,
                              absl::Span<const std::string> output_names,
                              std::vector<Tensor>* outputs) const {
  absl::StatusOr<std::vector<Tensor>> result = Run(inputs, output_names, outputs);
  outputs->clear();
  if (!result.ok()) return result.status();
  *outputs = *std::move(result);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Tensor>> Session::Run(absl::Span<const NamedTensor> inputs,
                                                 absl::Span<const std::string> output_names,
                                                 std::vector<Tensor>* reuse) const {
  OCTET_ASSIGN_OR_RETURN(std::vector<const Tensor*> ordered, OrderInputs(inputs));
  std::vector<int> output_indices;
  if (output_names.empty()) {
    for (size_t i = 0; i < graph_.outputs.size(); ++i)
      output_indices.push_back(static_cast<int>(i));
  }
  for (const std::string& name : output_names) {
    size_t index = 0;
    while (index < graph_.outputs.size() && graph_.outputs[index].name != name) ++index;
    if (index == graph_.outputs.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown output '", name, "'; the model's outputs are: ",
          absl::StrJoin(graph_.outputs, ", ",
                        [](std::string* out, const ValueInfo& v) { out->append(v.name); })));
    }
    output_indices.push_back(static_cast<int>(index));
  }

  std::vector<Tensor> views;
  views.reserve(ordered.size());
  for (const Tensor* t : ordered) views.push_back(*t);
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, GetPlan(ordered));
  // The team size of the parallel regions the plan's own kernels open from this thread (oneDNN's
  // primitives use the count they were made with, the same).
  ScopedOpenMpThreads threads(options_.num_threads);
  return plan->Run(views, output_indices, reuse);
}

}  // namespace octet
