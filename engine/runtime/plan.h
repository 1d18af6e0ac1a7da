#ifndef OCTET_ENGINE_RUNTIME_PLAN_H_
#define OCTET_ENGINE_RUNTIME_PLAN_H_

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "engine/ir/graph.h"
#include "engine/runtime/kernel.h"

namespace octet {

// A graph compiled for one set of concrete input shapes: a kernel per node, in order, over
// numbered value slots. Nodes whose inputs are all known when the plan is built (constants,
// Shape of an input, and what follows from those) run once then, and their outputs become
// constants of the plan. Thread-safe: concurrent Runs each take a workspace (intermediate buffers
// and a oneDNN stream) from a pool, so after warm-up a Run allocates only its outputs.
// One step of a plan as Plan::Describe reports it.
struct StepDescription {
  // The nodes the step computes, fused ones included ("conv2 + add1 + relu3"); steps the plan
  // inserted to give an op a plain layout say "(reorder to plain)".
  std::string nodes;
  std::string op_type;
  // Kernel::implementation(): oneDNN's implementation name, or "octet:cpu".
  std::string implementation;
  std::vector<TensorDesc> inputs;  // an omitted optional input has an empty shape and type float
  std::vector<TensorDesc> outputs;
  std::string notes;
  // With profiling on: runs measured and their mean time.
  int64_t runs = 0;
  double mean_ms = 0;
};

class Plan {
 public:
  // REQUIRES: `inputs` has one desc per graph input, in order; the graph passed
  // CheckGraphSupported. `values` holds, for the graph inputs the plan needs by value
  // (AnalyzePlanConstants), their values by input index; the plan is only valid for them.
  // With `profile`, every Run times each step (Describe reports the means).
  static absl::StatusOr<std::unique_ptr<Plan>> Build(
      const Graph& graph, const std::vector<TensorDesc>& inputs,
      const std::vector<std::pair<int, Tensor>>& values = {}, bool profile = false);
  ~Plan();

  // Runs on `inputs` (one per graph input, in order, with the descs the plan was built for) and
  // returns the graph outputs whose indices are in `outputs`, in that order.
  absl::StatusOr<std::vector<Tensor>> Run(absl::Span<const Tensor> inputs,
                                          absl::Span<const int> outputs) const;
  // The same, writing output k into (*reuse)[k] where that tensor has the output's type and
  // shape and is its buffer's sole owner (the kernels overwrite it); `reuse` may be shorter.
  absl::StatusOr<std::vector<Tensor>> Run(absl::Span<const Tensor> inputs,
                                          absl::Span<const int> outputs,
                                          std::vector<Tensor>* reuse) const;

  // Bytes of intermediate buffers one Run's workspace holds (after sharing).
  size_t workspace_bytes() const;

  // The desc of graph output `index`.
  const TensorDesc& output_desc(int index) const { return slots_[output_slots_[index]].desc; }

  // Every step in execution order: what it computes, with which implementation, on which types
  // and layouts.
  std::vector<StepDescription> Describe() const;

 private:
  enum class SlotKind { kInput, kConstant, kIntermediate };
  struct Slot {
    SlotKind kind;
    TensorDesc desc;
    Tensor constant;       // for kConstant
    int input_index = -1;  // for kInput: which graph input
  };
  struct Step {
    std::unique_ptr<Kernel> kernel;
    std::vector<int> inputs;   // -1 for an omitted optional input
    std::vector<int> outputs;  // by position; -1 for an output the model does not use
    // When not negative: output 0 should share the buffer of this input (by position), which the
    // kernel updates in place (a fused residual Add); AssignBuffers arranges it when that input
    // dies here.
    int in_place_input = -1;
    std::string nodes;  // for Describe
    std::string op_type;
    std::string notes;
  };
  struct Workspace;
  class Builder;

  Plan() = default;
  // A plain copy of channel-blocked slot `blocked`, made by a reorder step appended now (once per
  // slot: `copies` remembers them).
  absl::StatusOr<int> PlainSlot(int blocked, absl::flat_hash_map<int, int>* copies);
  // Fills buffer_of_slot_ and buffer_bytes_ from the steps' reads and writes.
  void AssignBuffers();
  // Runs `kernel` once on constant inputs (slots) and returns its outputs.
  absl::StatusOr<std::vector<Tensor>> Fold(const Kernel& kernel, const std::vector<int>& inputs,
                                           const std::vector<TensorDesc>& outputs) const;
  std::unique_ptr<Workspace> AcquireWorkspace() const;
  void ReleaseWorkspace(std::unique_ptr<Workspace> workspace) const;

  // A deque, whose elements stay where they are as slots are added: a kernel being built holds
  // pointers to its constant inputs' slots while the builder adds others (the plain copy of a
  // channel-blocked input, made for that same kernel).
  std::deque<Slot> slots_;
  std::vector<Step> steps_;
  std::vector<int> output_slots_;
  size_t scratchpad_bytes_ = 0;
  // Intermediate values share buffers when their lifetimes do not overlap: the buffer of each
  // slot (-1 for slots that are not intermediate), and each buffer's size in bytes.
  std::vector<int> buffer_of_slot_;
  std::vector<size_t> buffer_bytes_;
  // Profiling: nanoseconds spent in each step, summed over runs (null when off).
  bool profile_ = false;
  std::unique_ptr<std::atomic<int64_t>[]> step_nanos_;
  mutable std::atomic<int64_t> profiled_runs_{0};
  mutable std::atomic<bool> warmed_up_{false};  // a Run has begun: later ones are profiled

  mutable absl::Mutex mu_;
  mutable std::vector<std::unique_ptr<Workspace>> free_workspaces_ ABSL_GUARDED_BY(mu_);
};

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_PLAN_H_
