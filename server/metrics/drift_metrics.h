// The metric families of live drift and calibration-coverage monitoring (docs/drift.md), declared
// once on a registry the caller owns. Series carry the model and version labels of the serving
// families (and the input name for coverage); per-tensor detail never becomes a label.
#ifndef OCTET_SERVER_METRICS_DRIFT_METRICS_H_
#define OCTET_SERVER_METRICS_DRIFT_METRICS_H_

#include <optional>
#include <string>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace octet::server {

// Thread-safe (prometheus-cpp's metrics are).
class DriftMetrics {
 public:
  explicit DriftMetrics(prometheus::Registry& registry);

  // The series of one monitored (quantized) version.
  struct VersionSeries {
    prometheus::Counter* samples = nullptr;     // batch rows compared with the float version
    prometheus::Counter* agreements = nullptr;  // of those, rows whose top-1 class agrees
    prometheus::Histogram* sqnr_db = nullptr;   // per row, clamped to [-100, 100]
    prometheus::Histogram* cosine = nullptr;
    prometheus::Histogram* max_abs_error = nullptr;
    prometheus::Counter* dropped_queue_full = nullptr;
    prometheus::Counter* dropped_failed = nullptr;
    // The job's offline evaluation: only the figures it measured.
    prometheus::Gauge* offline_float_top1 = nullptr;
    prometheus::Gauge* offline_quantized_top1 = nullptr;
    prometheus::Gauge* offline_top1_agreement = nullptr;
  };
  // The series of one model input of a monitored version.
  struct InputSeries {
    prometheus::Counter* values = nullptr;
    prometheus::Counter* out_of_range = nullptr;
    prometheus::Gauge* psi = nullptr;  // absent without a calibration histogram
  };

  struct OfflineFigures {
    std::optional<double> float_top1;
    std::optional<double> quantized_top1;
    std::optional<double> top1_agreement;
  };
  VersionSeries AddVersion(const std::string& model, const std::string& version,
                           const OfflineFigures& offline);
  InputSeries AddInput(const std::string& model, const std::string& version,
                       const std::string& input, bool with_psi);
  // A sample of a version dropped before its series existed (the same counter as
  // VersionSeries::dropped_*), and the removal of those counters.
  void CountDropped(const std::string& model, const std::string& version,
                    const std::string& reason);
  void RemoveDropped(const std::string& model, const std::string& version);
  // Removes the series (a deleted version stops being exported).
  void Remove(const VersionSeries& series);
  void Remove(const InputSeries& series);

 private:
  prometheus::Family<prometheus::Counter>& samples_;
  prometheus::Family<prometheus::Counter>& agreements_;
  prometheus::Family<prometheus::Histogram>& sqnr_;
  prometheus::Family<prometheus::Histogram>& cosine_;
  prometheus::Family<prometheus::Histogram>& max_abs_error_;
  prometheus::Family<prometheus::Counter>& dropped_;
  prometheus::Family<prometheus::Gauge>& offline_float_top1_;
  prometheus::Family<prometheus::Gauge>& offline_quantized_top1_;
  prometheus::Family<prometheus::Gauge>& offline_agreement_;
  prometheus::Family<prometheus::Counter>& values_;
  prometheus::Family<prometheus::Counter>& out_of_range_;
  prometheus::Family<prometheus::Gauge>& psi_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_METRICS_DRIFT_METRICS_H_
