#include "server/core/job_runner.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/core/dataset_file.h"
#include "server/core/job_state.h"
#include "server/core/proto_conversion.h"

namespace octet::server {
namespace {

namespace v1 = octet::v1;

constexpr size_t kMaxIdempotencyKeyLength = 256;

std::string NewJobId() {
  absl::BitGen gen;
  const uint64_t bits = absl::Uniform<uint64_t>(gen);
  std::string bytes(reinterpret_cast<const char*>(&bits), sizeof(bits));
  return absl::StrCat("job-", absl::BytesToHexString(bytes));
}

}  // namespace

JobRunner::JobRunner(const JobRunnerOptions& options, Storage* storage, JobStore* jobs,
                     DatasetStore* datasets, ModelRegistry* registry, InferenceScheduler* scheduler,
                     ServerMetrics* metrics)
    : options_(options),
      storage_(storage),
      jobs_(jobs),
      datasets_(datasets),
      registry_(registry),
      metrics_(metrics),
      job_executor_(options.execution, storage, datasets, registry, scheduler) {}

JobRunner::~JobRunner() { Shutdown(); }

void JobRunner::Publish(Active& active) {
  ++active.revision;
  active.history.emplace_back(active.revision, active.job);
  if (active.history.size() > kWatchHistory) active.history.pop_front();
}

absl::Status JobRunner::Start() {
  // A job still RUNNING in the database was running when the previous process died.
  OCTET_ASSIGN_OR_RETURN(std::vector<v1::Job> interrupted, jobs_->InState(v1::JOB_STATE_RUNNING));
  for (v1::Job& job : interrupted) {
    if (job.attempts() >= options_.retry_limit) {
      job.set_state(v1::JOB_STATE_FAILED);
      job.set_error(absl::StrCat("the server stopped while the job ran, ", job.attempts(),
                                 " times (a crash or a kill); "
                                 "not retried past the retry limit of ",
                                 options_.retry_limit));
      *job.mutable_end_time() = Now();
      metrics_->RecordJobEnd("FAILED", 0);
    } else {
      job.set_state(v1::JOB_STATE_QUEUED);
      job.clear_progress();
      job.mutable_progress()->set_message(absl::StrCat("re-queued: the server stopped while run ",
                                                       job.attempts(), " of at most ",
                                                       options_.retry_limit, " was in progress"));
    }
    OCTET_RETURN_IF_ERROR(jobs_->Update(job));
  }
  OCTET_ASSIGN_OR_RETURN(std::vector<v1::Job> queued, jobs_->InState(v1::JOB_STATE_QUEUED));
  {
    absl::MutexLock lock(&mu_);
    for (v1::Job& job : queued) {
      queue_.push_back(job.id());
      active_[job.id()].job = std::move(job);
    }
  }
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  return absl::OkStatus();
}

absl::StatusOr<v1::Job> JobRunner::NewJob(const v1::CreateJobRequest& request) {
  OCTET_RETURN_IF_ERROR(ValidateName(request.model(), "model"));
  if (request.model_version() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model_version must be 0 (the default) or more, got ", request.model_version()));
  }
  if (request.idempotency_key().size() > kMaxIdempotencyKeyLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("idempotency_key is longer than ", kMaxIdempotencyKeyLength, " bytes"));
  }
  OCTET_ASSIGN_OR_RETURN(QuantizationConfig config, FromProto(request.config()));
  OCTET_ASSIGN_OR_RETURN(v1::ModelVersion version,
                         registry_->store().GetVersion(request.model(), request.model_version()));
  if (version.precision() != v1::PRECISION_FLOAT) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model '", version.name(), "' version ", version.version(), " is already quantized (",
        v1::Precision_Name(version.precision()), "); quantize its float version instead"));
  }
  const bool weights_only = config.mode == QuantizationMode::kWeightsOnly;
  if (request.calibration_dataset().empty() && !weights_only) {
    return absl::InvalidArgumentError(
        "calibration_dataset is required to quantize activations (or use mode WEIGHTS_ONLY)");
  }
  if (request.calibration_dataset().empty() &&
      request.config().weights().rounding() == v1::ROUNDING_GPTQ) {
    return absl::InvalidArgumentError(
        "config.weights.rounding: GPTQ rounds each layer's weights against statistics of its "
        "inputs and needs a calibration_dataset (unspecified rounding falls back to nearest "
        "without one)");
  }
  for (const std::string* name : {&request.calibration_dataset(), &request.evaluation_dataset()}) {
    if (name->empty()) continue;
    const std::string field =
        name == &request.calibration_dataset() ? "calibration_dataset" : "evaluation_dataset";
    OCTET_RETURN_IF_ERROR(ValidateName(*name, field));
    OCTET_ASSIGN_OR_RETURN(v1::Dataset dataset, datasets_->Get(*name));
    OCTET_RETURN_IF_ERROR(CheckDatasetFitsModel(dataset, version, config.evaluation_output));
  }

  v1::Job job;
  job.set_id(NewJobId());
  job.set_model(version.name());
  job.set_model_version(version.version());
  job.set_calibration_dataset(request.calibration_dataset());
  job.set_evaluation_dataset(request.evaluation_dataset());
  *job.mutable_config() = ToProto(config, request.config().seed());
  job.set_state(v1::JOB_STATE_QUEUED);
  job.set_promote(request.promote());
  job.set_idempotency_key(request.idempotency_key());
  *job.mutable_create_time() = Now();
  job.mutable_progress()->set_message("waiting for a worker");
  return job;
}

absl::StatusOr<v1::Job> JobRunner::Create(const v1::CreateJobRequest& request) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
  }
  OCTET_ASSIGN_OR_RETURN(v1::Job job, NewJob(request));
  if (!request.idempotency_key().empty()) {
    absl::StatusOr<v1::Job> first = jobs_->GetByIdempotencyKey(request.idempotency_key());
    if (first.ok()) {
      const bool same =
          first->model() == job.model() && first->model_version() == job.model_version() &&
          first->calibration_dataset() == job.calibration_dataset() &&
          first->evaluation_dataset() == job.evaluation_dataset() &&
          first->promote() == job.promote() &&
          google::protobuf::util::MessageDifferencer::Equals(first->config(), job.config());
      if (!same) {
        return absl::AlreadyExistsError(absl::StrCat("idempotency_key '", request.idempotency_key(),
                                                     "' belongs to job ", first->id(),
                                                     ", created with other parameters"));
      }
      return Get(first->id());
    }
    if (!absl::IsNotFound(first.status())) return first.status();
  }

  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  if (queue_.size() >= static_cast<size_t>(options_.queue_capacity)) {
    return absl::ResourceExhaustedError(absl::StrCat("the job queue is full (", queue_.size(),
                                                     " jobs waiting, the limit is ",
                                                     options_.queue_capacity, "); retry later"));
  }
  OCTET_ASSIGN_OR_RETURN(CreatedJob created, jobs_->Create(job));
  if (!created.created) return created.job;  // the same key, created a moment ago
  active_[job.id()].job = job;
  queue_.push_back(job.id());
  return job;
}

absl::StatusOr<v1::Job> JobRunner::Get(const std::string& id) {
  v1::Job job;
  bool found = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = active_.find(id);
    if (it != active_.end()) {
      job = it->second.job;
      found = true;
    }
  }
  if (!found) {
    OCTET_ASSIGN_OR_RETURN(job, jobs_->Get(id));
  }
  if (job.state() == v1::JOB_STATE_SUCCEEDED && job.result_version() > 0) {
    OCTET_ASSIGN_OR_RETURN(JobStore::ArtifactBlobs artifact,
                           jobs_->ArtifactOf(job.model(), job.result_version()));
    if (!artifact.report_sha256.empty()) {
      OCTET_ASSIGN_OR_RETURN(std::string report, storage_->blobs().ReadVerified(
                                                     artifact.report_sha256,
                                                     absl::StrCat("job ", id, "'s report.json")));
      job.set_report_json(std::move(report));
      OCTET_ASSIGN_OR_RETURN(
          std::string manifest,
          storage_->blobs().ReadVerified(artifact.manifest_sha256,
                                         absl::StrCat("job ", id, "'s manifest.json")));
      job.set_manifest_json(std::move(manifest));
    }
  }
  return job;
}

absl::StatusOr<v1::Job> JobRunner::Cancel(const std::string& id) {
  v1::Job snapshot;
  {
    absl::MutexLock lock(&mu_);
    auto it = active_.find(id);
    if (it == active_.end() || IsTerminal(it->second.job.state())) {
      v1::Job job;
      if (it != active_.end()) {
        job = it->second.job;
      } else {
        OCTET_ASSIGN_OR_RETURN(job, jobs_->Get(id));
      }
      return absl::FailedPreconditionError(
          absl::StrCat("job ", id, " already ended (", JobStateName(job.state()), ")"));
    }
    Active& active = it->second;
    active.cancel_requested = true;
    // Still in the queue: it never runs. Otherwise a worker has it (running, or about to start),
    // and it stops before its next batch.
    auto queued = std::find(queue_.begin(), queue_.end(), id);
    if (queued == queue_.end()) return active.job;
    snapshot = active.job;
    snapshot.set_state(v1::JOB_STATE_CANCELLED);
    snapshot.set_error("cancelled by CancelJob before it ran");
    *snapshot.mutable_end_time() = Now();
    // The row first, as in Update; the lock keeps workers from taking the job meanwhile.
    OCTET_RETURN_IF_ERROR(jobs_->Update(snapshot));
    queue_.erase(queued);
    active.job = snapshot;
    Publish(active);
  }
  metrics_->RecordJobEnd("CANCELLED", 0);
  return snapshot;
}

absl::StatusOr<v1::Job> JobRunner::Watch(const std::string& id, int64_t* revision,
                                         absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    auto it = active_.find(id);
    if (it != active_.end()) {
      struct Wait {
        JobRunner* runner;
        const Active* active;
        int64_t seen;
      } wait{this, &it->second, *revision};
      mu_.AwaitWithDeadline(absl::Condition(
                                +[](Wait* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                  return w->runner->stopping_ || w->active->revision > w->seen;
                                },
                                &wait),
                            deadline);
      if (stopping_) return absl::UnavailableError("the server is shutting down");
      const Active& active = it->second;
      v1::Job job = active.job;
      *revision = active.revision;
      // A new watcher starts from the job as it is; a returning one from its next change.
      for (const auto& [change, snapshot] : active.history) {
        if (wait.seen > 0 && change > wait.seen) {
          job = snapshot;
          *revision = change;
          break;
        }
      }
      if (!IsTerminal(job.state())) return job;
    }
  }
  if (*revision == 0) *revision = 1;
  return Get(id);
}

void JobRunner::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
}

void JobRunner::WorkerLoop() {
  while (true) {
    std::string id;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](JobRunner* r)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return r->stopping_ || !r->queue_.empty(); },
          this));
      if (stopping_) return;
      id = queue_.front();
      queue_.pop_front();
      metrics_->SetJobsRunning(++running_);
    }
    Run(id);
    absl::MutexLock lock(&mu_);
    metrics_->SetJobsRunning(--running_);
  }
}

bool JobRunner::ShouldStop(const std::string& id) {
  absl::MutexLock lock(&mu_);
  return stopping_ || active_[id].cancel_requested;
}

template <typename Change>
absl::Status JobRunner::Update(const std::string& id, bool persist, Change change) {
  v1::Job next;
  {
    absl::MutexLock lock(&mu_);
    next = active_[id].job;
  }
  change(next);
  // The row first: whoever sees the change (a watcher, GetJob) may act on it at once, for example
  // delete the dataset of a job that ended, which the database must then allow.
  if (persist) OCTET_RETURN_IF_ERROR(jobs_->Update(next));
  absl::MutexLock lock(&mu_);
  Active& active = active_[id];
  active.job = std::move(next);
  Publish(active);
  return absl::OkStatus();
}

void JobRunner::Run(const std::string& id) {
  v1::Job job;
  absl::Status started = Update(id, true, [&](v1::Job& j) {
    j.set_state(v1::JOB_STATE_RUNNING);
    j.set_attempts(j.attempts() + 1);
    *j.mutable_start_time() = Now();
    j.clear_error();
    j.clear_progress();
    j.mutable_progress()->set_stage(v1::JOB_STAGE_PREPARE);
    j.mutable_progress()->set_message(StageText(v1::JOB_STAGE_PREPARE));
    job = j;
  });
  absl::Status status = started.ok() ? Execute(id, job) : started;
  if (status.ok()) {
    absl::MutexLock lock(&mu_);
    const v1::Job& done = active_[id].job;
    metrics_->RecordJobEnd("SUCCEEDED", Seconds(done.start_time(), done.end_time()));
    return;
  }
  bool requeue = false;
  {
    absl::MutexLock lock(&mu_);
    requeue = absl::IsCancelled(status) && stopping_ && !active_[id].cancel_requested;
  }
  v1::Job final_job;
  absl::Status written = Update(id, true, [&](v1::Job& j) {
    if (requeue) {
      // A shutdown interrupted it: not the job's fault, so the run does not count.
      j.set_state(v1::JOB_STATE_QUEUED);
      j.set_attempts(j.attempts() - 1);
      j.clear_progress();
      j.mutable_progress()->set_message("returned to the queue by a server shutdown");
    } else if (absl::IsCancelled(status)) {
      j.set_state(v1::JOB_STATE_CANCELLED);
      j.set_error(absl::StrCat("cancelled by CancelJob while ", StageText(j.progress().stage())));
      *j.mutable_end_time() = Now();
    } else {
      j.set_state(v1::JOB_STATE_FAILED);
      j.set_error(absl::StrCat(absl::StatusCodeToString(status.code()), " while ",
                               StageText(j.progress().stage()), ": ", status.message()));
      *j.mutable_end_time() = Now();
    }
    final_job = j;
  });
  if (!written.ok()) {
    std::fprintf(stderr, "octetd: cannot record the end of job %s: %s\n", id.c_str(),
                 std::string(written.message()).c_str());
  }
  if (!requeue) {
    metrics_->RecordJobEnd(JobStateName(final_job.state()),
                           Seconds(final_job.start_time(), final_job.end_time()));
  }
}

absl::Status JobRunner::Execute(const std::string& id, const v1::Job& job) {
  v1::JobStage last_stage = v1::JOB_STAGE_PREPARE;
  JobExecutor::Hooks hooks;
  hooks.progress = [&](v1::JobStage stage, int64_t done, int64_t total) {
    const bool stage_changed = stage != last_stage;
    last_stage = stage;
    Update(id, stage_changed, [&](v1::Job& j) {
      v1::JobProgress* progress = j.mutable_progress();
      progress->set_stage(stage);
      progress->set_batches_done(done);
      progress->set_batches_total(total);
      const double within = total > 0 ? static_cast<double>(done) / total : 0.0;
      progress->set_fraction(StageStart(stage) + within * (StageEnd(stage) - StageStart(stage)));
      progress->set_message(total > 0
                                ? absl::StrCat(StageText(stage), ": batch ", done, " of ", total)
                                : StageText(stage));
    }).IgnoreError();  // progress is advisory; the terminal state is what must persist
    return !ShouldStop(id);
  };
  hooks.storing = [&]() -> absl::Status {
    if (ShouldStop(id)) return absl::CancelledError("stopped before storing the result");
    return Update(id, true, [&](v1::Job& j) {
      j.mutable_progress()->set_stage(v1::JOB_STAGE_STORE);
      j.mutable_progress()->set_fraction(StageStart(v1::JOB_STAGE_STORE));
      j.mutable_progress()->set_message(StageText(v1::JOB_STAGE_STORE));
    });
  };
  hooks.current = [&] {
    absl::MutexLock lock(&mu_);
    return active_[id].job;
  };
  OCTET_ASSIGN_OR_RETURN(v1::Job done, job_executor_.Execute(job, hooks));
  absl::MutexLock lock(&mu_);
  Active& active = active_[id];
  active.job = std::move(done);
  Publish(active);
  return absl::OkStatus();
}

}  // namespace octet::server
