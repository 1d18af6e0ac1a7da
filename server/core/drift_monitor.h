// Live accuracy-drift and calibration-coverage monitoring of served quantized versions
// (docs/drift.md): a share of the requests to each quantized version is run again, after its
// reply, on the float version it was made from, as low-priority background work on the
// inference workers.
#ifndef OCTET_SERVER_CORE_DRIFT_MONITOR_H_
#define OCTET_SERVER_CORE_DRIFT_MONITOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "octet/v1/quantization_service.pb.h"
#include "server/core/inference_scheduler.h"
#include "server/core/model_registry.h"
#include "server/core/version_drift.h"
#include "server/metrics/drift_metrics.h"

namespace octet::server {

struct DriftOptions {
  // Share of requests to quantized versions that is monitored, 0 to 1 (a model's own
  // ServingConfig.drift_sample_rate overrides it).
  double sample_rate = 0.01;
  // Samples admitted per second over all versions; 0: no limit.
  double max_per_second = 5;
  // Share of wall time the shadow runs may compute (what they took is charged after each run,
  // so that a model whose float run is slow is sampled less often); 0: no limit.
  double max_compute_share = 0.05;
  absl::Duration window = absl::Minutes(10);
  // For the shadow sessions.
  SessionOptions session_options;
};

// Admits each request with the probability of its rate, at most `max_per_second` (a token bucket
// holding one second's worth, at least one sample), and while the shadow runs' computation stays
// within `max_compute_share` of wall time (a credit of compute seconds refilled at that share,
// holding one second's worth, charged by Charge). 0 lifts either limit. Thread-safe.
class SampleGate {
 public:
  explicit SampleGate(double max_per_second, double max_compute_share = 0)
      : max_per_second_(max_per_second), max_compute_share_(max_compute_share) {}

  // Whether a request drawn `uniform` (in [0, 1)) at `now` is sampled under `rate`.
  bool Admit(double rate, double uniform, absl::Time now);
  // Charges the computation of a shadow run that ended at `now`.
  void Charge(absl::Duration computation, absl::Time now);

 private:
  // Brings both budgets to `now`.
  void Refill(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double max_per_second_;
  const double max_compute_share_;
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  double tokens_ ABSL_GUARDED_BY(mu_) = 0;
  double compute_credit_ ABSL_GUARDED_BY(mu_) = 0;  // seconds
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

// The quantization job that made a version, with its report.json.
using JobLookup = std::function<absl::StatusOr<octet::v1::Job>(const std::string& id)>;

// Thread-safe.
class DriftMonitor {
 public:
  // `metrics` may be null. Every pointer must outlive the monitor.
  DriftMonitor(DriftOptions options, ModelRegistry* registry, InferenceScheduler* scheduler,
               JobLookup jobs, DriftMetrics* metrics);

  // Whether a request to `model` is monitored: a quantized (int8 or weights-only) version,
  // drawn at its model's rate, within the rate limit. Cheap.
  bool ShouldSample(const LoadedModel& model);

  // Queues the shadow run of a sampled request whose reply was sent: `inputs` as the client sent
  // them, `outputs` what the version returned; of a request of more than kMaxShadowRows rows,
  // its first kMaxShadowRows. Never blocks: when the background queue is full the sample is
  // dropped and counted.
  static constexpr int64_t kMaxShadowRows = 32;
  void Offer(std::shared_ptr<const LoadedModel> model, std::vector<NamedTensor> inputs,
             std::vector<NamedTensor> outputs);

  // The drift of `name` version `version` over the window; version 0 is the default version, or
  // when that is float the newest quantized one. NOT_FOUND for an unknown version,
  // FAILED_PRECONDITION for a float one (or a model without a quantized version).
  absl::StatusOr<octet::v1::DriftReport> Report(const std::string& name, int64_t version);

  // Stops monitoring `deleted` versions of `name` and the versions quantized from them; their
  // Prometheus series go.
  void Forget(const std::string& name, const std::vector<int64_t>& deleted);

 private:
  using Key = std::pair<std::string, int64_t>;

  double RateOf(const std::string& name);
  // The monitor of `model`, built on first use (on a worker: it builds a session).
  absl::StatusOr<std::shared_ptr<VersionDrift>> MonitorOf(const LoadedModel& model);
  void Shadow(const LoadedModel& model, const std::vector<NamedTensor>& inputs,
              const std::vector<NamedTensor>& outputs);

  const DriftOptions options_;
  ModelRegistry* const registry_;
  InferenceScheduler* const scheduler_;
  const JobLookup jobs_;
  DriftMetrics* const metrics_;
  SampleGate gate_;

  // Held while a monitor is built: two monitors of one version would share (and one would
  // remove) the same Prometheus series. Taken before mu_.
  absl::Mutex build_mu_;
  absl::Mutex mu_;
  std::map<Key, std::shared_ptr<VersionDrift>> monitors_ ABSL_GUARDED_BY(mu_);
  // Samples dropped before the version's monitor existed (kept: the monitor does not count them),
  // and why a monitor could not be built.
  std::map<Key, int64_t> early_drops_ ABSL_GUARDED_BY(mu_);
  std::map<Key, std::string> failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_DRIFT_MONITOR_H_
