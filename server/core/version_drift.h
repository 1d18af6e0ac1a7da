// The live drift and calibration coverage of one served quantized version: what its sampled
// requests' shadow runs measured, over a sliding window, and the Prometheus series it feeds.
#ifndef OCTET_SERVER_CORE_VERSION_DRIFT_H_
#define OCTET_SERVER_CORE_VERSION_DRIFT_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/ir/graph.h"
#include "engine/quant/drift_statistics.h"
#include "engine/runtime/session.h"
#include "octet/v1/model_service.pb.h"
#include "server/metrics/drift_metrics.h"

namespace octet::server {

struct VersionDriftSetup {
  // The monitored (quantized) version.
  octet::v1::ModelVersion version;
  // Its stored QDQ graph, before int8 lowering: the quantization parameters of its activations.
  const Graph* quantized = nullptr;
  // The float version it was made from; null when there is none (coverage only).
  const Graph* source = nullptr;
  // The job's report.json ("" when the version was uploaded): offline figures and the
  // calibration samples' input histograms.
  std::string report_json;
  // The output compared; "" means the first float32 output (as the job's evaluation).
  std::string compared_output;
  // For the shadow session (its threads, plan cache).
  SessionOptions session_options;
  // Figures are kept in ten buckets spanning this.
  absl::Duration window = absl::Minutes(10);
  // May be null.
  DriftMetrics* metrics = nullptr;
};

// Thread-safe. Observe runs the shadow computation on the calling thread (a scheduler worker).
class VersionDrift {
 public:
  // Builds the shadow session: the float source version with the quantized activations as
  // extra outputs, or without a source the QDQ graph simulated in float (coverage only).
  // INVALID_ARGUMENT when the graphs or the report cannot be read.
  static absl::StatusOr<std::unique_ptr<VersionDrift>> Create(const VersionDriftSetup& setup);
  ~VersionDrift();

  // Records one sampled request: `inputs` as the client sent them, `outputs` what the served
  // version returned (by name; `served` computes the compared output when the client did not ask
  // for it). Runs the shadow computation. An error leaves the figures unchanged.
  absl::Status Observe(absl::Span<const NamedTensor> inputs, absl::Span<const NamedTensor> outputs,
                       const Session& served, absl::Time now);
  // A sample that never ran: "queue_full", or "failed" with the shadow run's `error`.
  void CountDropped(const std::string& reason, const std::string& error = "");

  // The figures of the buckets within the window at `now`, tensors worst first.
  octet::v1::DriftReport Report(absl::Time now) const;

  // Removes the Prometheus series (the version or its source was deleted); the object keeps
  // answering Report but feeds no metric any more.
  void Detach();

  int64_t source_version() const { return setup_version_.source_version(); }

 private:
  struct InputWatch {
    std::string name;
    ValueRange range;
    std::string range_source;
    std::optional<BinnedHistogram> calibration;  // from report.json
    DriftMetrics::InputSeries series;
  };
  struct TensorWatch {
    std::string name;
    ValueRange range;
    RangeCoverage evaluation;  // the job's, from report.json (empty when none)
  };
  struct Bucket {
    absl::Time start;
    int64_t rows = 0;
    int64_t agreements = 0;
    bool has_class_axis = false;
    double sum_sqnr = 0.0, min_sqnr = 0.0, sum_cosine = 0.0, min_cosine = 0.0;
    double max_abs_error = 0.0;
    std::vector<RangeCoverage> inputs;
    std::vector<BinnedHistogram> input_histograms;
    std::vector<RangeCoverage> tensors;
    std::vector<ValueRange> tensor_seen;  // observed min and max
  };

  explicit VersionDrift(const VersionDriftSetup& setup);
  // The bucket for `now`, opening a new one (and dropping those past the window) as needed.
  Bucket& CurrentBucket(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const octet::v1::ModelVersion setup_version_;
  const absl::Duration window_;
  DriftMetrics* metrics_;
  DriftMetrics::VersionSeries series_;
  std::unique_ptr<Session> reference_;  // null: nothing to run
  bool compares_outputs_ = false;       // the reference is the float source
  std::string compared_output_;
  std::string comparison_note_;
  std::vector<std::string> notes_;
  std::vector<InputWatch> inputs_;
  std::vector<TensorWatch> tensors_;  // fetched from the reference after the compared output
  octet::v1::OfflineDrift offline_;
  bool has_offline_ = false;

  mutable absl::Mutex mu_;
  bool detached_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  int64_t dropped_queue_full_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
};

// SQNR in dB clamped to [-100, 100], so that identical rows (+inf) average and bucket.
double ClampedSqnrDb(double sqnr_db);

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_VERSION_DRIFT_H_
