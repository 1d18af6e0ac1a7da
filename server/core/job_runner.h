// Quantization jobs (ARCHITECTURE.md, "Jobs"): admission, a bounded queue, worker threads running
// each job's JobExecutor, progress for watchers, cancellation, and recovery of jobs a crash or a
// shutdown interrupted.
#ifndef OCTET_SERVER_CORE_JOB_RUNNER_H_
#define OCTET_SERVER_CORE_JOB_RUNNER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "octet/v1/quantization_service.pb.h"
#include "server/core/inference_scheduler.h"
#include "server/core/job_executor.h"
#include "server/core/job_state.h"
#include "server/core/model_registry.h"
#include "server/metrics/server_metrics.h"
#include "server/store/dataset_store.h"
#include "server/store/job_store.h"
#include "server/store/storage.h"

namespace octet::server {

struct JobRunnerOptions {
  // Jobs running at once.
  int workers = 1;
  // Jobs waiting to run; CreateJob beyond it is RESOURCE_EXHAUSTED.
  int queue_capacity = 16;
  // Runs a job may start; a job a crash interrupted this often ends FAILED instead of re-running.
  int retry_limit = 3;
  JobExecutorOptions execution;
};

class JobRunner {
 public:
  // Every calibration and evaluation batch runs on `scheduler`'s workers, those inference uses, so
  // that a job and inference share the cores batch by batch.
  JobRunner(const JobRunnerOptions& options, Storage* storage, JobStore* jobs,
            DatasetStore* datasets, ModelRegistry* registry, InferenceScheduler* scheduler,
            ServerMetrics* metrics);
  // Stops the workers (Shutdown).
  ~JobRunner();

  // Reconciles what a previous process left (RUNNING jobs are re-queued, or FAILED past the retry
  // limit), queues the QUEUED jobs in creation order and starts the workers.
  absl::Status Start();

  // Validates the request against the stored model and datasets and queues a job (or returns the
  // job of the same idempotency key). INVALID_ARGUMENT / NOT_FOUND / FAILED_PRECONDITION naming
  // the field; RESOURCE_EXHAUSTED when the queue is full; UNAVAILABLE while shutting down.
  absl::StatusOr<octet::v1::Job> Create(const octet::v1::CreateJobRequest& request);

  // The job with its report once SUCCEEDED.
  absl::StatusOr<octet::v1::Job> Get(const std::string& id);

  // A queued job ends CANCELLED at once; a running one before its next calibration batch.
  // FAILED_PRECONDITION for a job that already ended.
  absl::StatusOr<octet::v1::Job> Cancel(const std::string& id);

  // Returns the job's first change after revision `*revision` (updating it) once there is one, or
  // the job as it is at `deadline`: a watcher calling this in a loop sees every change in order
  // (unless it falls more than 1,024 changes behind). A job unknown to this process (ended before
  // it started) returns at once with revision 1. UNAVAILABLE once shutdown began.
  absl::StatusOr<octet::v1::Job> Watch(const std::string& id, int64_t* revision,
                                       absl::Time deadline);

  // Stops taking jobs, interrupts running ones (they return to QUEUED, their run not counted)
  // and joins the workers. Idempotent.
  void Shutdown();

 private:
  struct Active {
    octet::v1::Job job;
    int64_t revision = 1;
    bool cancel_requested = false;
    // The last changes, oldest first, so that a watcher slower than the job still sees each one
    // (up to kWatchHistory behind).
    std::deque<std::pair<int64_t, octet::v1::Job>> history;
  };
  static constexpr size_t kWatchHistory = 1024;

  // Bumps the job's revision and records the change for watchers. REQUIRES: mu_ held.
  static void Publish(Active& active);

  // The QUEUED job `request` asks for, checked against the stored model and datasets.
  absl::StatusOr<octet::v1::Job> NewJob(const octet::v1::CreateJobRequest& request);
  void WorkerLoop();
  void Run(const std::string& id);
  // Runs the job on job_executor_, reporting its progress; the job's terminal update is written
  // by its STORE step on success, by the caller otherwise.
  absl::Status Execute(const std::string& id, const octet::v1::Job& job);
  // Applies `change` to the in-memory job, bumps its revision and wakes watchers; with `persist`
  // also writes the row.
  template <typename Change>
  absl::Status Update(const std::string& id, bool persist, Change change);
  bool ShouldStop(const std::string& id);

  const JobRunnerOptions options_;
  Storage* const storage_;
  JobStore* const jobs_;
  DatasetStore* const datasets_;
  ModelRegistry* const registry_;
  ServerMetrics* const metrics_;
  const JobExecutor job_executor_;

  absl::Mutex mu_;
  std::map<std::string, Active> active_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_JOB_RUNNER_H_
