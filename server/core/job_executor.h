#ifndef OCTET_SERVER_CORE_JOB_EXECUTOR_H_
#define OCTET_SERVER_CORE_JOB_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "octet/v1/quantization_service.pb.h"
#include "server/core/inference_scheduler.h"
#include "server/core/model_registry.h"
#include "server/store/dataset_store.h"
#include "server/store/storage.h"

namespace octet::server {

struct JobExecutorOptions {
  // OpenMP threads each calibration or evaluation batch uses.
  int threads_per_job = 1;
  // Largest dataset file unpacked for a job.
  int64_t max_dataset_bytes = int64_t{1} << 30;
  std::string octet_version;
  // Fault injection for the crash tests: the process aborts in the first calibration batch of
  // every job, as a worker crash would end it.
  bool abort_in_calibration = false;
};

// The work of one quantization job: reads the source model and the datasets (each checked
// against its hash and against the model), runs the engine's post-training quantization with
// every batch on the inference executor's slots, and stores the artifact: the QDQ model as the
// model's next version, report.json and manifest.json beside it, and the job SUCCEEDED, in one
// transaction. Thread-safe: several jobs may run at once.
class JobExecutor {
 public:
  // What the job's owner learns and decides while the job runs.
  struct Hooks {
    // At each stage change and batch: the stage, batches done and batches in the stage (0 when
    // not counted in batches). Returning false stops the job before its next batch.
    std::function<bool(octet::v1::JobStage stage, int64_t done, int64_t total)> progress;
    // Before STORE: an error (CANCELLED to stop) ends the job with nothing stored.
    std::function<absl::Status()> storing;
    // The job's record as it stands; the commit completes it (state, result, evaluation).
    std::function<octet::v1::Job()> current;
  };

  JobExecutor(const JobExecutorOptions& options, Storage* storage, DatasetStore* datasets,
              ModelRegistry* registry, InferenceScheduler* scheduler)
      : options_(options),
        storage_(storage),
        datasets_(datasets),
        registry_(registry),
        scheduler_(scheduler) {}

  // The job as committed SUCCEEDED. CANCELLED when the hooks stopped it; otherwise an error naming
  // what failed (DATA_LOSS for a stored file that no longer matches its hash).
  absl::StatusOr<octet::v1::Job> Execute(const octet::v1::Job& job, const Hooks& hooks) const;

 private:
  const JobExecutorOptions options_;
  Storage* const storage_;
  DatasetStore* const datasets_;
  ModelRegistry* const registry_;
  InferenceScheduler* const scheduler_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_JOB_EXECUTOR_H_
