#ifndef OCTET_SERVER_CORE_INFERENCE_EXECUTOR_H_
#define OCTET_SERVER_CORE_INFERENCE_EXECUTOR_H_

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace octet::server {

// Lets at most `workers` computations run at once; the others wait their turn in arrival order
// of wake-up (not strictly FIFO). With each session using `threads` OpenMP threads, workers x
// threads is kept within the machine's cores, so concurrent requests queue instead of
// oversubscribing. Thread-safe.
class InferenceExecutor {
 public:
  explicit InferenceExecutor(int workers) : free_(workers) {}

  // Runs `work` on the calling thread once a worker slot is free.
  template <typename Work>
  auto Run(Work&& work) -> decltype(work()) {
    Acquire();
    struct Release {
      InferenceExecutor* executor;
      ~Release() { executor->ReleaseSlot(); }
    } release{this};
    return work();
  }

 private:
  void Acquire();
  void ReleaseSlot();

  absl::Mutex mu_;
  int free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_INFERENCE_EXECUTOR_H_
