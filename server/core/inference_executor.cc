#include "server/core/inference_executor.h"

namespace octet::server {

void InferenceExecutor::Acquire() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* free) { return *free > 0; }, &free_));
  --free_;
}

void InferenceExecutor::ReleaseSlot() {
  absl::MutexLock lock(&mu_);
  ++free_;
}

}  // namespace octet::server
