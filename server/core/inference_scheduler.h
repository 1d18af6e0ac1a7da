// The serving layer's computations: a fixed set of worker threads (each with its OpenMP team sized
// once) that take ModelInfer requests from a bounded queue per served version, batch those that
// can run together, and run quantization jobs' batches between them. gRPC's threads only decode,
// submit and reply.
#ifndef OCTET_SERVER_CORE_INFERENCE_SCHEDULER_H_
#define OCTET_SERVER_CORE_INFERENCE_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/tensor/tensor.h"
#include "server/core/batching.h"
#include "server/core/model_registry.h"
#include "server/metrics/server_metrics.h"

namespace octet::server {

// What happened to one request on its way through the scheduler.
struct InferenceTiming {
  absl::Duration queued;    // from Submit to the start of its computation
  absl::Duration computed;  // its batch's computation, concatenation and split included
  int64_t batch_rows = 0;   // rows of the batch it ran in (padding included)
};

class InferenceScheduler {
 public:
  struct Options {
    int workers = 1;
    // OpenMP threads of each worker.
    int threads = 1;
    // Requests waiting per served version before Submit refuses.
    int max_queue_size = 256;
    // Background work items waiting before OfferBackground refuses.
    int max_background = 64;
  };

  struct Request {
    std::shared_ptr<const LoadedModel> model;
    std::vector<NamedTensor> inputs;
    std::vector<std::string> output_names;  // empty: every output
    BatchingPolicy batching;
    absl::Time deadline = absl::InfiniteFuture();
    // True once the client has gone; may be empty.
    std::function<bool()> cancelled;
    // Called once, on a worker (or in Shutdown), with the outputs or why there are none:
    // DEADLINE_EXCEEDED or CANCELLED for a request dropped before it computed, UNAVAILABLE when
    // the server stops first.
    absl::AnyInvocable<void(absl::StatusOr<std::vector<Tensor>>, const InferenceTiming&)> done;
  };

  // `metrics` may be null.
  InferenceScheduler(const Options& options, ServerMetrics* metrics);
  ~InferenceScheduler();  // Shutdown()

  InferenceScheduler(const InferenceScheduler&) = delete;
  InferenceScheduler& operator=(const InferenceScheduler&) = delete;

  // Queues `request` behind the others for its version. RESOURCE_EXHAUSTED (and `done` is not
  // called) when that queue is full; UNAVAILABLE after Shutdown.
  absl::Status Submit(Request request);

  // Runs `work` on a worker, in turn with the requests, and returns its status; blocks the caller.
  // Called on a worker, runs `work` in place.
  absl::Status RunTask(const std::function<absl::Status()>& work);

  // Queues `work` to run as `work(true)` on a worker, in turn with the tasks (before waiting
  // requests), without waiting for it: what a gRPC callback hands over instead of blocking. Work
  // not started at Shutdown gets `work(false)` there instead. False, and `work` is destroyed
  // uncalled, after Shutdown.
  bool Post(absl::AnyInvocable<void(bool run)> work);

  // Queues `work` to run on a worker when no request and no task waits: below both in priority,
  // so a live request waits at most for the background work a worker has already started (and
  // such a wait does not make it wait for a batch to fill). False, and `work` is destroyed
  // unrun, when `max_background` items already wait or after Shutdown.
  bool OfferBackground(absl::AnyInvocable<void()> work);

  // Finishes every queued request with UNAVAILABLE, drops the background work that waits, lets
  // computations in progress end, and stops the workers. Idempotent.
  void Shutdown();

  const Options& options() const { return options_; }

 private:
  struct Pending {
    Request request;
    absl::Time enqueued;
    int64_t rows;     // the first input's first axis, or 1
    bool found_idle;  // a worker was idle when it arrived: it never waits for a batch
  };
  struct VersionQueue {
    std::shared_ptr<const LoadedModel> model;
    bool batchable = false;  // Batchable(*model->session)
    std::deque<Pending> pending;
  };
  struct Task {
    const std::function<absl::Status()>* work;
    absl::Status status;
    bool done = false;
  };
  // What a worker takes at once: one task, one background item, or a batch of requests to one
  // version.
  struct Batch {
    Task* task = nullptr;
    absl::AnyInvocable<void(bool)> posted;
    absl::AnyInvocable<void()> background;
    std::shared_ptr<const LoadedModel> model;
    std::vector<Pending> requests;
    int64_t rows = 0;
  };

  void WorkerLoop();
  // Waits for work and takes it; false when stopping. Requests it drops (deadline, cancelled)
  // go to `dropped`.
  bool TakeWork(Batch* batch, std::vector<Pending>* dropped) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the requests of `queue` that can join `batch` into it, up to the batch's maximum.
  void Gather(VersionQueue& queue, Batch* batch, std::vector<Pending>* dropped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits, within the batching delay, for more requests to join a batch that is not full.
  void FillBatch(Batch* batch, std::vector<Pending>* dropped) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Finishes a request dropped before it computed (deadline passed, client gone).
  void Drop(Pending& pending);
  void RunBatch(Batch& batch);
  // The batch run as one, `total_rows` rows with the padding; empty when it cannot be.
  std::vector<absl::StatusOr<std::vector<Tensor>>> RunTogether(const Batch& batch,
                                                               int64_t total_rows);
  void PublishDepth(const VersionQueue& queue) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  ServerMetrics* const metrics_;

  absl::Mutex mu_;
  absl::CondVar work_available_;  // idle workers wait here
  absl::CondVar batch_grew_;      // workers filling a batch wait here
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int computing_workers_ ABSL_GUARDED_BY(mu_) = 0;  // between taking work and its end
  int filling_workers_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<const LoadedModel*, VersionQueue> queues_ ABSL_GUARDED_BY(mu_);
  std::deque<Task*> tasks_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::AnyInvocable<void(bool)>> posted_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::AnyInvocable<void()>> background_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> workers_;  // set in the constructor, never changed
  std::once_flag joined_;
};

// "int8", "weight_only" or "float": the precision label of a served version.
std::string PrecisionLabel(const octet::v1::ModelVersion& version);

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_INFERENCE_SCHEDULER_H_
