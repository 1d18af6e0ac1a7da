#include "server/core/drift_monitor.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "server/core/batching.h"

namespace octet::server {

void SampleGate::Refill(absl::Time now) {
  const double rate_capacity = std::max(1.0, max_per_second_);
  const double compute_capacity = max_compute_share_;  // one second's worth
  if (!started_) {
    started_ = true;
    tokens_ = rate_capacity;
    compute_credit_ = compute_capacity;
  } else if (now > last_) {
    const double elapsed = absl::ToDoubleSeconds(now - last_);
    tokens_ = std::min(rate_capacity, tokens_ + elapsed * max_per_second_);
    compute_credit_ = std::min(compute_capacity, compute_credit_ + elapsed * max_compute_share_);
  }
  last_ = std::max(last_, now);
}

bool SampleGate::Admit(double rate, double uniform, absl::Time now) {
  if (!(rate > 0.0) || uniform >= rate) return false;
  if (max_per_second_ <= 0.0 && max_compute_share_ <= 0.0) return true;
  absl::MutexLock lock(&mu_);
  Refill(now);
  if (max_compute_share_ > 0.0 && compute_credit_ <= 0.0) return false;
  if (max_per_second_ > 0.0) {
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
  }
  return true;
}

void SampleGate::Charge(absl::Duration computation, absl::Time now) {
  if (max_compute_share_ <= 0.0) return;
  absl::MutexLock lock(&mu_);
  Refill(now);
  compute_credit_ -= absl::ToDoubleSeconds(computation);
}

DriftMonitor::DriftMonitor(DriftOptions options, ModelRegistry* registry,
                           InferenceScheduler* scheduler, JobLookup jobs, DriftMetrics* metrics)
    : options_(std::move(options)),
      registry_(registry),
      scheduler_(scheduler),
      jobs_(std::move(jobs)),
      metrics_(metrics),
      gate_(options_.max_per_second, options_.max_compute_share) {}

double DriftMonitor::RateOf(const std::string& name) {
  return registry_->DriftSampleRate(name).value_or(options_.sample_rate);
}

bool DriftMonitor::ShouldSample(const LoadedModel& model) {
  if (model.version.precision() != octet::v1::PRECISION_INT8 &&
      model.version.precision() != octet::v1::PRECISION_WEIGHT_ONLY) {
    return false;
  }
  const double rate = RateOf(model.version.name());
  if (!(rate > 0.0)) return false;
  thread_local absl::BitGen random;
  return gate_.Admit(rate, absl::Uniform(random, 0.0, 1.0), absl::Now());
}

namespace {

// The first `keep` rows of every tensor in `named`, or nullopt when they do not all have `rows`.
std::optional<std::vector<NamedTensor>> FirstRows(const std::vector<NamedTensor>& named,
                                                  int64_t rows, int64_t keep) {
  std::vector<Tensor> tensors;
  for (const NamedTensor& t : named) tensors.push_back(t.second);
  const int64_t parts_rows[] = {keep, rows - keep};
  absl::StatusOr<std::vector<std::vector<Tensor>>> parts = Split(tensors, parts_rows, rows);
  if (!parts.ok()) return std::nullopt;
  std::vector<NamedTensor> first;
  for (size_t i = 0; i < named.size(); ++i) first.emplace_back(named[i].first, (*parts)[0][i]);
  return first;
}

}  // namespace

void DriftMonitor::Offer(std::shared_ptr<const LoadedModel> model, std::vector<NamedTensor> inputs,
                         std::vector<NamedTensor> outputs) {
  const Key key{model->version.name(), model->version.version()};
  // A large request is sampled by its first rows: a shadow run keeps every quantized activation.
  const std::optional<int64_t> rows = RowsOf(inputs);
  if (rows.has_value() && *rows > kMaxShadowRows && Batchable(*model->session)) {
    std::optional<std::vector<NamedTensor>> first_inputs = FirstRows(inputs, *rows, kMaxShadowRows);
    std::optional<std::vector<NamedTensor>> first_outputs =
        FirstRows(outputs, *rows, kMaxShadowRows);
    if (first_inputs.has_value() && first_outputs.has_value()) {
      inputs = *std::move(first_inputs);
      outputs = *std::move(first_outputs);
    }
  }
  const bool queued = scheduler_->OfferBackground(
      [this, model, inputs = std::move(inputs), outputs = std::move(outputs)] {
        Shadow(*model, inputs, outputs);
      });
  if (queued) return;
  absl::MutexLock lock(&mu_);
  const auto monitor = monitors_.find(key);
  if (monitor != monitors_.end()) {
    monitor->second->CountDropped("queue_full");
    return;
  }
  ++early_drops_[key];
  if (metrics_ != nullptr) {
    metrics_->CountDropped(key.first, absl::StrCat(key.second), "queue_full");
  }
}

void DriftMonitor::Shadow(const LoadedModel& model, const std::vector<NamedTensor>& inputs,
                          const std::vector<NamedTensor>& outputs) {
  absl::StatusOr<std::shared_ptr<VersionDrift>> monitor = MonitorOf(model);
  if (!monitor.ok()) return;  // kept in failures_, shown by Report
  const absl::Time start = absl::Now();
  const absl::Status observed = (*monitor)->Observe(inputs, outputs, *model.session, start);
  const absl::Time end = absl::Now();
  gate_.Charge(end - start, end);
  if (!observed.ok()) (*monitor)->CountDropped("failed", std::string(observed.message()));
}

absl::StatusOr<std::shared_ptr<VersionDrift>> DriftMonitor::MonitorOf(const LoadedModel& model) {
  const octet::v1::ModelVersion& version = model.version;
  const Key key{version.name(), version.version()};
  {
    absl::MutexLock lock(&mu_);
    const auto it = monitors_.find(key);
    if (it != monitors_.end()) return it->second;
  }
  absl::MutexLock building(&build_mu_);
  {
    absl::MutexLock lock(&mu_);
    const auto it = monitors_.find(key);
    if (it != monitors_.end()) return it->second;  // built while this thread waited
  }
  auto build = [&]() -> absl::StatusOr<std::unique_ptr<VersionDrift>> {
    VersionDriftSetup setup;
    setup.version = version;
    setup.session_options = options_.session_options;
    setup.window = options_.window;
    setup.metrics = metrics_;
    OCTET_ASSIGN_OR_RETURN(Graph quantized, registry_->ReadGraph(key.first, key.second));
    setup.quantized = &quantized;
    std::shared_ptr<const LoadedModel> source;
    if (version.source_version() > 0) {
      absl::StatusOr<std::shared_ptr<const LoadedModel>> found =
          registry_->Get(key.first, version.source_version());
      if (found.ok()) {
        source = *std::move(found);
        setup.source = &source->session->graph();
      } else if (!absl::IsNotFound(found.status())) {
        return found.status();
      }
    }
    if (!version.job_id().empty() && jobs_) {
      absl::StatusOr<octet::v1::Job> job = jobs_(version.job_id());
      if (job.ok()) {
        setup.report_json = job->report_json();
        setup.compared_output = job->config().evaluation_output();
      }
    }
    return VersionDrift::Create(setup);
  };
  absl::StatusOr<std::unique_ptr<VersionDrift>> built = build();
  absl::MutexLock lock(&mu_);
  if (!built.ok()) {
    failures_[key] = std::string(built.status().message());
    return built.status();
  }
  // A version deleted while its monitor was being built is not monitored.
  if (!registry_->store().GetVersion(key.first, key.second).ok()) {
    return absl::NotFoundError(
        absl::StrCat("model '", key.first, "' version ", key.second, " was deleted"));
  }
  const auto it = monitors_.emplace(key, std::shared_ptr<VersionDrift>(*std::move(built))).first;
  failures_.erase(key);
  return it->second;
}

absl::StatusOr<octet::v1::DriftReport> DriftMonitor::Report(const std::string& name,
                                                            int64_t version) {
  auto quantized = [](const octet::v1::ModelVersion& v) {
    return v.precision() == octet::v1::PRECISION_INT8 ||
           v.precision() == octet::v1::PRECISION_WEIGHT_ONLY;
  };
  OCTET_ASSIGN_OR_RETURN(octet::v1::ModelVersion resolved,
                         registry_->store().GetVersion(name, version));
  if (version == 0 && !quantized(resolved)) {
    // The default is the float original: the newest quantized version is the one to watch.
    OCTET_ASSIGN_OR_RETURN(octet::v1::Model model, registry_->store().GetModel(name));
    for (const octet::v1::ModelVersion& v : model.versions()) {
      if (quantized(v)) resolved = v;
    }
  }
  if (!quantized(resolved)) {
    return absl::FailedPreconditionError(
        absl::StrCat("model '", name, "' version ", resolved.version(),
                     " is float: drift is monitored on quantized versions"));
  }
  const Key key{name, resolved.version()};
  octet::v1::DriftReport report;
  std::shared_ptr<VersionDrift> monitor;
  {
    absl::MutexLock lock(&mu_);
    const auto it = monitors_.find(key);
    if (it != monitors_.end()) monitor = it->second;
    if (monitor == nullptr) {
      report.set_name(name);
      report.set_version(resolved.version());
      report.set_source_version(resolved.source_version());
      const auto failure = failures_.find(key);
      report.add_notes(failure != failures_.end()
                           ? absl::StrCat("monitoring could not start: ", failure->second)
                           : "no request to this version has been sampled yet");
    }
  }
  if (monitor != nullptr) report = monitor->Report(absl::Now());
  {
    // Samples dropped before the monitor existed (their Prometheus counter is the monitor's).
    absl::MutexLock lock(&mu_);
    const auto drops = early_drops_.find(key);
    if (drops != early_drops_.end()) {
      report.set_dropped_queue_full(report.dropped_queue_full() + drops->second);
    }
  }
  report.set_sample_rate(RateOf(name));
  return report;
}

void DriftMonitor::Forget(const std::string& name, const std::vector<int64_t>& deleted) {
  std::vector<std::shared_ptr<VersionDrift>> stopped;  // released outside the lock
  {
    // Detached under the lock: a monitor built next for the same version adds its series anew.
    absl::MutexLock lock(&mu_);
    for (auto it = monitors_.begin(); it != monitors_.end();) {
      const bool gone =
          it->first.first == name &&
          (std::count(deleted.begin(), deleted.end(), it->first.second) > 0 ||
           std::count(deleted.begin(), deleted.end(), it->second->source_version()) > 0);
      if (gone) {
        it->second->Detach();
        stopped.push_back(it->second);
        it = monitors_.erase(it);
      } else {
        ++it;
      }
    }
    for (int64_t v : deleted) {
      early_drops_.erase({name, v});
      failures_.erase({name, v});
      if (metrics_ != nullptr) metrics_->RemoveDropped(name, absl::StrCat(v));
    }
  }
}

}  // namespace octet::server
