#ifndef OCTET_ENGINE_RUNTIME_PLAN_H_
#define OCTET_ENGINE_RUNTIME_PLAN_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "engine/ir/graph.h"
#include "engine/runtime/kernel.h"

namespace octet {

// A graph compiled for one set of concrete input shapes: a kernel per node, in order, over
// numbered value slots. Thread-safe: concurrent Runs each take a workspace (intermediate buffers
// and a oneDNN stream) from a pool, so after warm-up a Run allocates only its outputs.
class Plan {
 public:
  // REQUIRES: `inputs` has one desc per graph input, in order; the graph passed
  // CheckGraphSupported.
  static absl::StatusOr<std::unique_ptr<Plan>> Build(const Graph& graph,
                                                     const std::vector<TensorDesc>& inputs);
  ~Plan();

  // Runs on `inputs` (one per graph input, in order, with the descs the plan was built for) and
  // returns the graph outputs whose indices are in `outputs`, in that order.
  absl::StatusOr<std::vector<Tensor>> Run(absl::Span<const Tensor> inputs,
                                          absl::Span<const int> outputs) const;

  // The desc of graph output `index`.
  const TensorDesc& output_desc(int index) const { return slots_[output_slots_[index]].desc; }

 private:
  enum class SlotKind { kInput, kConstant, kIntermediate };
  struct Slot {
    SlotKind kind;
    TensorDesc desc;
    Tensor constant;  // for kConstant
  };
  struct Step {
    std::unique_ptr<Kernel> kernel;
    std::vector<int> inputs;  // -1 for an omitted optional input
    std::vector<int> outputs;
  };
  struct Workspace;

  Plan() = default;
  std::unique_ptr<Workspace> AcquireWorkspace() const;
  void ReleaseWorkspace(std::unique_ptr<Workspace> workspace) const;

  std::vector<Slot> slots_;
  std::vector<Step> steps_;
  std::vector<int> output_slots_;
  size_t scratchpad_bytes_ = 0;

  mutable absl::Mutex mu_;
  mutable std::vector<std::unique_ptr<Workspace>> free_workspaces_ ABSL_GUARDED_BY(mu_);
};

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_PLAN_H_
