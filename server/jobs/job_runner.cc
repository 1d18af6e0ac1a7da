#include "server/jobs/job_runner.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "engine/base/status_macros.h"
#include "engine/quant/post_training_quantizer.h"
#include "google/protobuf/util/message_differencer.h"
#include "nlohmann/json.hpp"
#include "server/datasets/dataset_file.h"
#include "server/jobs/job_config.h"

namespace octet::server {
namespace {

namespace v1 = octet::v1;

constexpr size_t kMaxIdempotencyKeyLength = 256;

google::protobuf::Timestamp Now() {
  const int64_t ms = absl::ToUnixMillis(absl::Now());
  google::protobuf::Timestamp t;
  t.set_seconds(ms / 1000);
  t.set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
  return t;
}

double Seconds(const google::protobuf::Timestamp& from, const google::protobuf::Timestamp& to) {
  return static_cast<double>(to.seconds() - from.seconds()) +
         static_cast<double>(to.nanos() - from.nanos()) * 1e-9;
}

std::string NewJobId() {
  absl::BitGen gen;
  const uint64_t bits = absl::Uniform<uint64_t>(gen);
  std::string bytes(reinterpret_cast<const char*>(&bits), sizeof(bits));
  return absl::StrCat("job-", absl::BytesToHexString(bytes));
}

v1::JobStage StageOf(QuantizationStage stage) {
  switch (stage) {
    case QuantizationStage::kPrepare:
      return v1::JOB_STAGE_PREPARE;
    case QuantizationStage::kCalibrate:
      return v1::JOB_STAGE_CALIBRATE;
    case QuantizationStage::kQuantize:
      return v1::JOB_STAGE_QUANTIZE;
    case QuantizationStage::kEvaluate:
      return v1::JOB_STAGE_EVALUATE;
    case QuantizationStage::kExport:
      return v1::JOB_STAGE_EXPORT;
  }
  return v1::JOB_STAGE_UNSPECIFIED;
}

// The share of a whole job each stage ends at: calibration dominates, evaluation follows.
double StageEnd(v1::JobStage stage) {
  switch (stage) {
    case v1::JOB_STAGE_PREPARE:
      return 0.05;
    case v1::JOB_STAGE_CALIBRATE:
      return 0.6;
    case v1::JOB_STAGE_QUANTIZE:
      return 0.65;
    case v1::JOB_STAGE_EVALUATE:
      return 0.9;
    case v1::JOB_STAGE_EXPORT:
      return 0.95;
    default:
      return 1.0;
  }
}

double StageStart(v1::JobStage stage) {
  return stage == v1::JOB_STAGE_PREPARE ? 0.0 : StageEnd(static_cast<v1::JobStage>(stage - 1));
}

std::string StageText(v1::JobStage stage) {
  switch (stage) {
    case v1::JOB_STAGE_PREPARE:
      return "preparing the model";
    case v1::JOB_STAGE_CALIBRATE:
      return "calibrating activation ranges";
    case v1::JOB_STAGE_QUANTIZE:
      return "quantizing weights and inserting QDQ";
    case v1::JOB_STAGE_EVALUATE:
      return "evaluating float vs quantized";
    case v1::JOB_STAGE_EXPORT:
      return "exporting the QDQ model and report";
    case v1::JOB_STAGE_STORE:
      return "storing the artifact";
    default:
      return "";
  }
}

// The file bytes of a stored blob, checked against its hash.
absl::StatusOr<std::string> ReadVerified(BlobStore& blobs, const std::string& sha256,
                                         const std::string& what) {
  absl::StatusOr<std::string> bytes = ReadFile(blobs.PathFor(sha256));
  if (!bytes.ok()) {
    return absl::DataLossError(absl::StrCat("the stored file of ", what, " is missing"));
  }
  if (Sha256Hex(*bytes) != sha256) {
    return absl::DataLossError(
        absl::StrCat("the stored file of ", what, " does not match its sha256; it is not used"));
  }
  return bytes;
}

absl::StatusOr<std::unique_ptr<BlobStore::Writer>> WriteBlob(BlobStore& blobs,
                                                             const std::string& bytes) {
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> writer,
                         blobs.NewWriter(static_cast<int64_t>(bytes.size()) + 1));
  OCTET_RETURN_IF_ERROR(writer->Append(bytes));
  OCTET_RETURN_IF_ERROR(writer->Finish().status());
  return writer;
}

std::string ConfigSummary(const QuantizationConfig& config) {
  if (config.mode == QuantizationMode::kWeightsOnly) {
    return absl::StrCat("weights only, ", config.weights.bits, "-bit ",
                        config.weights.per_channel ? "per channel" : "per tensor");
  }
  return absl::StrCat(
      "W", config.weights.bits, config.weights.per_channel ? " per channel" : " per tensor", " A8 ",
      config.activation_scheme == QuantizationScheme::kSymmetric ? "symmetric" : "asymmetric", ", ",
      CalibrationMethodName(config.calibration.method), " calibration");
}

}  // namespace

std::string JobStateName(v1::JobState state) {
  std::string name = v1::JobState_Name(state);
  return name.substr(std::string("JOB_STATE_").size());
}

bool IsTerminal(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED;
}

JobRunner::JobRunner(const JobRunnerOptions& options, Storage* storage, JobStore* jobs,
                     DatasetStore* datasets, ModelRegistry* registry, InferenceExecutor* executor,
                     ServerMetrics* metrics)
    : options_(options),
      storage_(storage),
      jobs_(jobs),
      datasets_(datasets),
      registry_(registry),
      executor_(executor),
      metrics_(metrics) {}

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

absl::StatusOr<v1::Job> JobRunner::Create(const v1::CreateJobRequest& request) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
  }
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
      OCTET_ASSIGN_OR_RETURN(std::string report,
                             ReadVerified(storage_->blobs(), artifact.report_sha256,
                                          absl::StrCat("job ", id, "'s report.json")));
      job.set_report_json(std::move(report));
      OCTET_ASSIGN_OR_RETURN(std::string manifest,
                             ReadVerified(storage_->blobs(), artifact.manifest_sha256,
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
  BlobStore& blobs = storage_->blobs();
  OCTET_ASSIGN_OR_RETURN(v1::ModelVersion source,
                         registry_->store().GetVersion(job.model(), job.model_version()));
  OCTET_ASSIGN_OR_RETURN(
      std::string model_bytes,
      ReadVerified(blobs, source.sha256(),
                   absl::StrCat("model '", source.name(), "' version ", source.version())));
  OCTET_ASSIGN_OR_RETURN(QuantizationConfig config, FromProto(job.config()));

  // The datasets, checked against their hashes and bound to the model's inputs.
  struct Loaded {
    v1::Dataset dataset;
    SampleSet samples;
  };
  auto load = [&](const std::string& name) -> absl::StatusOr<Loaded> {
    Loaded loaded;
    OCTET_ASSIGN_OR_RETURN(loaded.dataset, datasets_->Get(name));
    const std::string what = absl::StrCat("dataset '", name, "'");
    // Hashed as a stream (BlobStore::Matches), not read into memory twice.
    absl::StatusOr<bool> intact = blobs.Matches(loaded.dataset.sha256());
    if (!intact.ok()) {
      return absl::DataLossError(absl::StrCat("the stored file of ", what, " is missing"));
    }
    if (!*intact) {
      return absl::DataLossError(
          absl::StrCat("the stored file of ", what, " does not match its sha256; it is not used"));
    }
    OCTET_ASSIGN_OR_RETURN(std::vector<NamedTensor> arrays,
                           ReadDatasetFile(blobs.PathFor(loaded.dataset.sha256()),
                                           loaded.dataset.format(), options_.max_dataset_bytes));
    OCTET_RETURN_IF_ERROR(CheckDatasetFitsModel(loaded.dataset, source, config.evaluation_output));
    loaded.samples = ToSampleSet(std::move(arrays), source);
    return loaded;
  };
  std::optional<Loaded> calibration, evaluation;
  if (!job.calibration_dataset().empty()) {
    OCTET_ASSIGN_OR_RETURN(calibration, load(job.calibration_dataset()));
  }
  if (!job.evaluation_dataset().empty()) {
    OCTET_ASSIGN_OR_RETURN(evaluation, load(job.evaluation_dataset()));
  }

  QuantizationRequest request;
  request.model = model_bytes;
  request.config = config;
  request.calibration = calibration.has_value() ? &calibration->samples : nullptr;
  request.evaluation = evaluation.has_value() ? &evaluation->samples : nullptr;
  request.num_threads = options_.threads_per_job;
  request.batch_runner = [this](const std::function<absl::Status()>& work) {
    return executor_->Run(work);
  };
  request.octet_version = options_.octet_version;
  v1::JobStage last_stage = v1::JOB_STAGE_PREPARE;
  request.progress = [&](const QuantizationProgress& p) {
    const v1::JobStage stage = StageOf(p.stage);
    if (options_.abort_in_calibration && stage == v1::JOB_STAGE_CALIBRATE && p.batches_done >= 1) {
      std::fprintf(stderr, "octetd: --testing_abort_in_calibration: aborting in job %s\n",
                   id.c_str());
      std::abort();
    }
    const bool stage_changed = stage != last_stage;
    last_stage = stage;
    Update(id, stage_changed, [&](v1::Job& j) {
      v1::JobProgress* progress = j.mutable_progress();
      progress->set_stage(stage);
      progress->set_batches_done(p.batches_done);
      progress->set_batches_total(p.batches_total);
      const double within =
          p.batches_total > 0 ? static_cast<double>(p.batches_done) / p.batches_total : 0.0;
      progress->set_fraction(StageStart(stage) + within * (StageEnd(stage) - StageStart(stage)));
      progress->set_message(
          p.batches_total > 0
              ? absl::StrCat(StageText(stage), ": batch ", p.batches_done, " of ", p.batches_total)
              : StageText(stage));
    }).IgnoreError();  // progress is advisory; the terminal state is what must persist
    return !ShouldStop(id);
  };
  OCTET_ASSIGN_OR_RETURN(QuantizationResult result, QuantizeModel(request));
  if (ShouldStop(id)) return absl::CancelledError("stopped before storing the result");

  // STORE: the QDQ model becomes the next version; report and manifest are stored beside it; the
  // job's success commits in the same transaction.
  OCTET_RETURN_IF_ERROR(Update(id, true, [&](v1::Job& j) {
    j.mutable_progress()->set_stage(v1::JOB_STAGE_STORE);
    j.mutable_progress()->set_fraction(StageStart(v1::JOB_STAGE_STORE));
    j.mutable_progress()->set_message(StageText(v1::JOB_STAGE_STORE));
  }));
  nlohmann::ordered_json manifest;
  manifest["format"] = "octet-artifact/1";
  manifest["octet_version"] = options_.octet_version;
  manifest["files"]["model.onnx"] = {{"sha256", Sha256Hex(result.model)},
                                     {"size_bytes", result.model.size()}};
  manifest["files"]["report.json"] = {{"sha256", Sha256Hex(result.report_json)},
                                      {"size_bytes", result.report_json.size()}};
  manifest["source_model"] = {
      {"name", source.name()}, {"version", source.version()}, {"sha256", source.sha256()}};
  manifest["calibration_dataset"] =
      calibration.has_value() ? nlohmann::ordered_json{{"name", calibration->dataset.name()},
                                                       {"sha256", calibration->dataset.sha256()}}
                              : nlohmann::ordered_json(nullptr);
  manifest["evaluation_dataset"] =
      evaluation.has_value() ? nlohmann::ordered_json{{"name", evaluation->dataset.name()},
                                                      {"sha256", evaluation->dataset.sha256()}}
                             : nlohmann::ordered_json(nullptr);
  const std::string manifest_json = manifest.dump(2) + "\n";

  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> model_blob,
                         WriteBlob(blobs, result.model));
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> report_blob,
                         WriteBlob(blobs, result.report_json));
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> manifest_blob,
                         WriteBlob(blobs, manifest_json));
  OCTET_ASSIGN_OR_RETURN(const std::string report_sha256, report_blob->Finish());
  OCTET_ASSIGN_OR_RETURN(const std::string manifest_sha256, manifest_blob->Finish());

  v1::Job done;
  {
    absl::MutexLock lock(&mu_);
    done = active_[id].job;
  }
  done.set_state(v1::JOB_STATE_SUCCEEDED);
  done.clear_error();
  v1::JobProgress* progress = done.mutable_progress();
  progress->set_fraction(1.0);
  progress->set_message("done");
  if (result.evaluation.has_value()) {
    v1::EvaluationSummary* summary = done.mutable_evaluation();
    summary->set_samples(result.evaluation->samples);
    summary->set_float_top1(result.evaluation->reference_top1.value_or(0));
    summary->set_quantized_top1(result.evaluation->candidate_top1.value_or(0));
    summary->set_top1_agreement(result.evaluation->top1_agreement);
    summary->set_output_sqnr_db(result.evaluation->output_sqnr_db);
  }
  v1::ModelVersion provenance;
  provenance.set_description(absl::StrCat("quantized from version ", source.version(), " by ", id,
                                          " (", ConfigSummary(config), ")"));
  provenance.set_source_version(source.version());
  provenance.set_job_id(id);
  OCTET_ASSIGN_OR_RETURN(
      AddedVersion added,
      registry_->AddJobResult(job.model(), provenance, *model_blob, job.promote(),
                              [&](Database& db, int64_t version) -> absl::Status {
                                OCTET_RETURN_IF_ERROR(report_blob->Commit());
                                OCTET_RETURN_IF_ERROR(manifest_blob->Commit());
                                OCTET_RETURN_IF_ERROR(JobStore::AddArtifactIn(
                                    db, job.model(), version, id, report_sha256, manifest_sha256));
                                done.set_result_version(version);
                                *done.mutable_end_time() = Now();
                                return JobStore::UpdateIn(db, done);
                              }));
  (void)added;
  absl::MutexLock lock(&mu_);
  Active& active = active_[id];
  active.job = done;
  Publish(active);
  return absl::OkStatus();
}

}  // namespace octet::server
