#include "server/core/inference_scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/batching.h"

namespace octet::server {
namespace {

// Set on the scheduler's workers: a task they submit runs in place (a worker waiting for a worker
// could wait for itself).
thread_local bool on_worker = false;

std::string VersionLabel(const LoadedModel& model) { return absl::StrCat(model.version.version()); }

std::string Describe(const LoadedModel& model) {
  return absl::StrCat("model '", model.version.name(), "' version ", model.version.version());
}

}  // namespace

std::string PrecisionLabel(const octet::v1::ModelVersion& version) {
  switch (version.precision()) {
    case octet::v1::PRECISION_INT8:
      return "int8";
    case octet::v1::PRECISION_WEIGHT_ONLY:
      return "weight_only";
    default:
      return "float";
  }
}

InferenceScheduler::InferenceScheduler(const Options& options, ServerMetrics* metrics)
    : options_(options), metrics_(metrics) {
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

InferenceScheduler::~InferenceScheduler() { Shutdown(); }

absl::Status InferenceScheduler::Submit(Request request) {
  const LoadedModel& model = *request.model;
  const int64_t rows = RowsOf(request.inputs).value_or(1);
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  VersionQueue& queue = queues_[&model];
  if (queue.model == nullptr) {
    queue.model = request.model;
    queue.batchable = Batchable(*model.session);
  }
  if (queue.pending.size() >= static_cast<size_t>(options_.max_queue_size)) {
    if (metrics_ != nullptr) {
      metrics_->RecordRejected(model.version.name(), VersionLabel(model), "queue_full");
    }
    const size_t waiting = queue.pending.size();
    if (queue.pending.empty()) queues_.erase(&model);
    return absl::ResourceExhaustedError(
        absl::StrCat("the queue of ", Describe(model), " is full (", waiting,
                     " requests waiting, --max_queue_size); retry later"));
  }
  // A worker that has finished computing counts as free while it sends its replies: the next
  // request of a client it just answered must not wait as if every worker were busy.
  const bool found_idle = computing_workers_ < std::max(1, options_.workers);
  queue.pending.push_back(Pending{std::move(request), absl::Now(), rows, found_idle});
  PublishDepth(queue);
  if (found_idle) work_available_.Signal();
  // A worker filling a batch of this version may take it (and leave once the batch is full).
  if (filling_workers_ > 0) batch_grew_.SignalAll();
  return absl::OkStatus();
}

absl::Status InferenceScheduler::RunTask(const std::function<absl::Status()>& work) {
  if (on_worker) return work();
  Task task;
  task.work = &work;
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  tasks_.push_back(&task);
  work_available_.Signal();
  mu_.Await(absl::Condition(&task.done));
  return task.status;
}

bool InferenceScheduler::Post(absl::AnyInvocable<void(bool run)> work) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  posted_.push_back(std::move(work));
  work_available_.Signal();
  return true;
}

bool InferenceScheduler::OfferBackground(absl::AnyInvocable<void()> work) {
  absl::MutexLock lock(&mu_);
  if (stopping_ ||
      background_.size() >= static_cast<size_t>(std::max(0, options_.max_background))) {
    return false;
  }
  background_.push_back(std::move(work));
  work_available_.Signal();
  return true;
}

void InferenceScheduler::Shutdown() {
  std::vector<Pending> abandoned;
  std::deque<absl::AnyInvocable<void()>> unrun;
  std::deque<absl::AnyInvocable<void(bool)>> unstarted;
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      stopping_ = true;
      for (auto& [key, queue] : queues_) {
        for (Pending& pending : queue.pending) abandoned.push_back(std::move(pending));
        queue.pending.clear();
        PublishDepth(queue);
      }
      queues_.clear();
      for (Task* task : tasks_) {
        task->status = absl::UnavailableError("the server is shutting down");
        task->done = true;
      }
      tasks_.clear();
      unrun.swap(background_);
      unstarted.swap(posted_);
      work_available_.SignalAll();
      batch_grew_.SignalAll();
    }
  }
  for (auto& work : unstarted) work(false);
  for (Pending& pending : abandoned) {
    pending.request.done(absl::UnavailableError("the server is shutting down"), InferenceTiming{});
  }
  // A concurrent caller waits here until the workers have ended.
  std::call_once(joined_, [this] {
    for (std::thread& worker : workers_) worker.join();
  });
}

void InferenceScheduler::WorkerLoop() {
  on_worker = true;
  while (true) {
    Batch batch;
    std::vector<Pending> dropped;
    bool more;
    {
      absl::MutexLock lock(&mu_);
      more = TakeWork(&batch, &dropped);
    }
    for (Pending& pending : dropped) Drop(pending);
    if (!more) return;
    RunBatch(batch);
  }
}

bool InferenceScheduler::TakeWork(Batch* batch, std::vector<Pending>* dropped) {
  while (!stopping_) {
    if (!tasks_.empty()) {
      batch->task = tasks_.front();
      tasks_.pop_front();
      ++computing_workers_;
      return true;
    }
    if (!posted_.empty()) {
      // Not counted as computing: the request it submits (a first load's) starts at once after.
      batch->posted = std::move(posted_.front());
      posted_.pop_front();
      return true;
    }
    // The version whose first request has waited longest.
    VersionQueue* oldest = nullptr;
    for (auto& [key, queue] : queues_) {
      if (!queue.pending.empty() && (oldest == nullptr || queue.pending.front().enqueued <
                                                              oldest->pending.front().enqueued)) {
        oldest = &queue;
      }
    }
    if (oldest == nullptr) {
      if (!background_.empty()) {
        // Not counted as computing: a request arriving meanwhile found no batch to wait for.
        batch->background = std::move(background_.front());
        background_.pop_front();
        return true;
      }
      work_available_.Wait(&mu_);
      continue;
    }
    batch->model = oldest->model;
    Gather(*oldest, batch, dropped);
    if (!batch->requests.empty()) {
      FillBatch(batch, dropped);
      const auto queue = queues_.find(batch->model.get());
      if (queue != queues_.end() && queue->second.pending.empty()) queues_.erase(queue);
      ++computing_workers_;
      return true;
    }
    if (oldest->pending.empty()) queues_.erase(oldest->model.get());
  }
  return false;
}

void InferenceScheduler::FillBatch(Batch* batch, std::vector<Pending>* dropped) {
  const Pending& head = batch->requests.front();
  const BatchingPolicy& policy = head.request.batching;
  // A request that found a worker idle starts at once; one that waited for a worker waits a
  // little more, up to the delay from its arrival, for its batch to fill.
  if (head.found_idle || policy.max_batch_size <= 1 ||
      policy.max_queue_delay <= absl::ZeroDuration()) {
    return;
  }
  const absl::Time until = head.enqueued + policy.max_queue_delay;
  ++filling_workers_;
  while (!stopping_ && batch->rows < policy.max_batch_size && absl::Now() < until) {
    auto queue = queues_.find(batch->model.get());
    if (queue == queues_.end() || !queue->second.batchable) break;
    batch_grew_.WaitWithDeadline(&mu_, until);
    queue = queues_.find(batch->model.get());
    if (queue != queues_.end()) Gather(queue->second, batch, dropped);
  }
  --filling_workers_;
}

void InferenceScheduler::Gather(VersionQueue& queue, Batch* batch, std::vector<Pending>* dropped) {
  const absl::Time now = absl::Now();
  for (auto it = queue.pending.begin(); it != queue.pending.end();) {
    Request& request = it->request;
    if (now >= request.deadline || (request.cancelled && request.cancelled())) {
      dropped->push_back(std::move(*it));
      it = queue.pending.erase(it);
      continue;
    }
    bool joins = batch->requests.empty();
    if (!joins && queue.batchable) {
      const Request& head = batch->requests.front().request;
      joins = batch->rows + it->rows <= head.batching.max_batch_size &&
              SameSignature(head.inputs, head.output_names, request.inputs, request.output_names);
    }
    if (joins) {
      batch->rows += it->rows;
      batch->requests.push_back(std::move(*it));
      it = queue.pending.erase(it);
      const int max_rows = batch->requests.front().request.batching.max_batch_size;
      if (!queue.batchable || max_rows <= 1 || batch->rows >= max_rows) break;
    } else {
      ++it;
    }
  }
  PublishDepth(queue);
}

void InferenceScheduler::Drop(Pending& pending) {
  const Request& request = pending.request;
  const bool expired = absl::Now() >= request.deadline;
  const LoadedModel& model = *request.model;
  if (metrics_ != nullptr) {
    metrics_->RecordRejected(model.version.name(), VersionLabel(model),
                             expired ? "deadline" : "cancelled");
  }
  InferenceTiming timing;
  timing.queued = absl::Now() - pending.enqueued;
  pending.request.done(
      expired ? absl::DeadlineExceededError(absl::StrCat(
                    "the deadline passed while the request waited for ", Describe(model), " (",
                    absl::FormatDuration(timing.queued), " in the queue)"))
              : absl::CancelledError("the client cancelled the request while it was queued"),
      timing);
}

void InferenceScheduler::RunBatch(Batch& batch) {
  if (batch.background) {
    batch.background();
    return;
  }
  if (batch.posted) {
    batch.posted(true);
    return;
  }
  if (batch.task != nullptr) {
    absl::Status status = (*batch.task->work)();
    absl::MutexLock lock(&mu_);
    batch.task->status = std::move(status);
    batch.task->done = true;
    --computing_workers_;
    return;
  }
  const absl::Time start = absl::Now();
  const LoadedModel& model = *batch.model;
  const Session& session = *model.session;
  std::vector<absl::StatusOr<std::vector<Tensor>>> results;
  int64_t ran_rows = batch.rows;
  if (batch.requests.size() > 1) {
    ran_rows = PaddedRows(batch.rows, batch.requests.front().request.batching.max_batch_size);
    results = RunTogether(batch, ran_rows);
  }
  if (results.empty()) {
    // Alone, or the batch could not be run as one: each request by itself, with its own error.
    ran_rows = batch.requests.size() == 1 ? batch.rows : ran_rows;
    for (Pending& pending : batch.requests) {
      results.push_back(session.Run(pending.request.inputs, pending.request.output_names));
    }
  }
  const absl::Time end = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    --computing_workers_;
  }
  const std::string version = VersionLabel(model);
  const std::string precision = PrecisionLabel(model.version);
  if (metrics_ != nullptr) {
    metrics_->RecordBatch(model.version.name(), version, ran_rows);
  }
  for (size_t i = 0; i < batch.requests.size(); ++i) {
    Pending& pending = batch.requests[i];
    InferenceTiming timing{start - pending.enqueued, end - start, ran_rows};
    if (metrics_ != nullptr) {
      metrics_->RecordInferenceTimes(model.version.name(), version, precision,
                                     absl::ToDoubleSeconds(timing.queued),
                                     absl::ToDoubleSeconds(timing.computed));
    }
    pending.request.done(std::move(results[i]), timing);
  }
}

std::vector<absl::StatusOr<std::vector<Tensor>>> InferenceScheduler::RunTogether(
    const Batch& batch, int64_t total_rows) {
  std::vector<const std::vector<NamedTensor>*> inputs;
  std::vector<int64_t> rows;
  for (const Pending& pending : batch.requests) {
    inputs.push_back(&pending.request.inputs);
    rows.push_back(pending.rows);
  }
  absl::StatusOr<std::vector<NamedTensor>> joined = Concatenate(inputs, total_rows);
  if (!joined.ok()) return {};
  absl::StatusOr<std::vector<Tensor>> outputs =
      batch.model->session->Run(*joined, batch.requests.front().request.output_names);
  if (!outputs.ok()) return {};
  absl::StatusOr<std::vector<std::vector<Tensor>>> parts = Split(*outputs, rows, total_rows);
  if (!parts.ok()) return {};
  std::vector<absl::StatusOr<std::vector<Tensor>>> results;
  for (std::vector<Tensor>& part : *parts) results.emplace_back(std::move(part));
  return results;
}

void InferenceScheduler::PublishDepth(const VersionQueue& queue) {
  if (metrics_ == nullptr) return;
  metrics_->SetQueueDepth(queue.model->version.name(), VersionLabel(*queue.model),
                          static_cast<int64_t>(queue.pending.size()));
}

}  // namespace octet::server
