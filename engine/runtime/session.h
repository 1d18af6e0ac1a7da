#ifndef OCTET_ENGINE_RUNTIME_SESSION_H_
#define OCTET_ENGINE_RUNTIME_SESSION_H_

#include <list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "engine/ir/graph.h"
#include "engine/runtime/plan.h"

namespace octet {

struct SessionOptions {
  // OpenMP threads each Run uses.
  int num_threads = 1;
  // Plans kept for distinct input shapes; the least recently used is dropped beyond this.
  size_t plan_cache_capacity = 8;
  // Lower QDQ patterns to int8 kernels (int8_lowering.h). Off, a QDQ model runs as simulated
  // quantization in float: the reference the int8 kernels are held to.
  bool lower_int8 = true;
  // Time every step of every Run but each plan's first, whose steps pay one-time costs (oneDNN
  // generates some kernels on first execution); Describe reports the means. A clock read per
  // step.
  bool profile = false;
};

// A model ready to run. Create() checks every op and, when the inputs' shapes are all static
// (and none is needed by value), builds the plan at once; other shapes get a plan on first use,
// cached per shape, and per value of the small inputs a plan needs by value (LRU).
//
// Thread-safe: Run may be called from several threads at once.
class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Create(Graph graph, SessionOptions options);

  // Runs the model. `inputs` names every graph input once; `output_names` selects outputs (empty:
  // all, in graph order). INVALID_ARGUMENT names any unknown, missing or repeated input, a wrong
  // element type or a shape the model does not accept, and any unknown output.
  absl::StatusOr<std::vector<Tensor>> Run(absl::Span<const NamedTensor> inputs,
                                          absl::Span<const std::string> output_names = {}) const;

  // Run, with the outputs in `*outputs`: each written over the tensor already there when that
  // one has the output's type and shape and shares its buffer with no other tensor (the last
  // call's, kept by a caller running batch after batch: no allocation, no page the kernel must
  // zero again), else in a fresh buffer. On error `*outputs` is left empty.
  absl::Status RunInto(absl::Span<const NamedTensor> inputs,
                       absl::Span<const std::string> output_names,
                       std::vector<Tensor>* outputs) const;

  const std::vector<ValueInfo>& inputs() const { return graph_.inputs; }
  const std::vector<ValueInfo>& outputs() const { return graph_.outputs; }
  // The graph the session runs (after int8 lowering).
  const Graph& graph() const { return graph_; }
  // What int8 lowering did, one line per lowered node, and the quantized patterns it left in
  // float (simulated), with the reason.
  const std::vector<std::string>& int8_nodes() const { return int8_nodes_; }
  const std::vector<std::string>& simulated_nodes() const { return simulated_nodes_; }

  // The plan for inputs like `inputs` (same rules as Run; nothing is computed), step by step:
  // the nodes each step computes (fusions included), oneDNN's implementation or Octet's own
  // kernel, types and layouts, an int8 kernel's zero points, and with profiling the mean time
  // of each step over the Runs so far with these input shapes.
  absl::StatusOr<std::vector<StepDescription>> Describe(absl::Span<const NamedTensor> inputs) const;

  // The number of plans in the cache (for tests and metrics).
  size_t cached_plan_count() const;

 private:
  // What a plan is specialised on: every input's type and shape, and the bytes of the inputs it
  // needs by value.
  struct PlanKey {
    std::vector<TensorDesc> descs;
    std::string values;
    bool operator==(const PlanKey& other) const {
      return descs == other.descs && values == other.values;
    }
  };

  absl::StatusOr<std::vector<Tensor>> Run(absl::Span<const NamedTensor> inputs,
                                          absl::Span<const std::string> output_names,
                                          std::vector<Tensor>* reuse) const;

  Session(Graph graph, SessionOptions options, std::vector<int> value_inputs)
      : graph_(std::move(graph)), options_(options), value_inputs_(std::move(value_inputs)) {}

  // `inputs` checked against the graph's inputs and put in graph order.
  absl::StatusOr<std::vector<const Tensor*>> OrderInputs(
      absl::Span<const NamedTensor> inputs) const;
  // `inputs` in graph order.
  absl::StatusOr<std::shared_ptr<const Plan>> GetPlan(
      const std::vector<const Tensor*>& inputs) const;

  const Graph graph_;
  const SessionOptions options_;
  // Graph inputs plans need by value (AnalyzePlanConstants).
  const std::vector<int> value_inputs_;
  std::vector<std::string> int8_nodes_;
  std::vector<std::string> simulated_nodes_;

  mutable absl::Mutex mu_;
  // Most recently used first.
  mutable std::list<std::pair<PlanKey, std::shared_ptr<const Plan>>> plans_ ABSL_GUARDED_BY(mu_);
};

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_SESSION_H_
