#include "server/metrics/drift_metrics.h"

namespace octet::server {
namespace {

prometheus::Histogram::BucketBoundaries SqnrBuckets() {
  return {0, 5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 80};
}
prometheus::Histogram::BucketBoundaries CosineBuckets() {
  return {0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999};
}
prometheus::Histogram::BucketBoundaries MaxErrorBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace

DriftMetrics::DriftMetrics(prometheus::Registry& registry)
    : samples_(prometheus::BuildCounter()
                   .Name("octet_drift_samples_total")
                   .Help("Batch rows of live requests also run on the float version they were "
                         "quantized from (shadow runs)")
                   .Register(registry)),
      agreements_(prometheus::BuildCounter()
                      .Name("octet_drift_top1_agreements_total")
                      .Help("Shadow-run rows whose top-1 class agrees between the quantized and "
                            "the float version (agreement = rate of this / rate of samples)")
                      .Register(registry)),
      sqnr_(prometheus::BuildHistogram()
                .Name("octet_drift_output_sqnr_db")
                .Help("Per shadow-run row, SQNR of the quantized output against the float one "
                      "(dB, clamped to [-100, 100])")
                .Register(registry)),
      cosine_(prometheus::BuildHistogram()
                  .Name("octet_drift_output_cosine")
                  .Help("Per shadow-run row, cosine similarity of the quantized and float outputs")
                  .Register(registry)),
      max_abs_error_(prometheus::BuildHistogram()
                         .Name("octet_drift_output_max_abs_error")
                         .Help("Per shadow-run row, the largest absolute difference between the "
                               "quantized and float outputs")
                         .Register(registry)),
      dropped_(prometheus::BuildCounter()
                   .Name("octet_drift_samples_dropped_total")
                   .Help("Sampled requests not monitored, by reason (queue_full: the shadow "
                         "queue was full; failed: the shadow run failed)")
                   .Register(registry)),
      offline_float_top1_(prometheus::BuildGauge()
                              .Name("octet_drift_offline_float_top1")
                              .Help("The quantization job's evaluation: top-1 of the float model")
                              .Register(registry)),
      offline_quantized_top1_(prometheus::BuildGauge()
                                  .Name("octet_drift_offline_quantized_top1")
                                  .Help("The quantization job's evaluation: top-1 of the "
                                        "quantized model")
                                  .Register(registry)),
      offline_agreement_(prometheus::BuildGauge()
                             .Name("octet_drift_offline_top1_agreement")
                             .Help("The quantization job's evaluation: top-1 agreement of the "
                                   "quantized and float models")
                             .Register(registry)),
      values_(prometheus::BuildCounter()
                  .Name("octet_calibration_values_total")
                  .Help("Values of a model input seen in monitored requests")
                  .Register(registry)),
      out_of_range_(prometheus::BuildCounter()
                        .Name("octet_calibration_out_of_range_total")
                        .Help("Values of a model input outside the range the quantization "
                              "calibrated for it")
                        .Register(registry)),
      psi_(prometheus::BuildGauge()
               .Name("octet_calibration_input_psi")
               .Help("Population stability index of a model input's values over the monitor's "
                     "window against the calibration data's")
               .Register(registry)) {}

DriftMetrics::VersionSeries DriftMetrics::AddVersion(const std::string& model,
                                                     const std::string& version,
                                                     const OfflineFigures& offline) {
  const std::map<std::string, std::string> labels = {{"model", model}, {"version", version}};
  VersionSeries series;
  series.samples = &samples_.Add(labels);
  series.agreements = &agreements_.Add(labels);
  series.sqnr_db = &sqnr_.Add(labels, SqnrBuckets());
  series.cosine = &cosine_.Add(labels, CosineBuckets());
  series.max_abs_error = &max_abs_error_.Add(labels, MaxErrorBuckets());
  std::map<std::string, std::string> with_reason = labels;
  with_reason["reason"] = "queue_full";
  series.dropped_queue_full = &dropped_.Add(with_reason);
  with_reason["reason"] = "failed";
  series.dropped_failed = &dropped_.Add(with_reason);
  auto gauge = [&](prometheus::Family<prometheus::Gauge>& family,
                   const std::optional<double>& value) -> prometheus::Gauge* {
    if (!value.has_value()) return nullptr;
    prometheus::Gauge* g = &family.Add(labels);
    g->Set(*value);
    return g;
  };
  series.offline_float_top1 = gauge(offline_float_top1_, offline.float_top1);
  series.offline_quantized_top1 = gauge(offline_quantized_top1_, offline.quantized_top1);
  series.offline_top1_agreement = gauge(offline_agreement_, offline.top1_agreement);
  return series;
}

DriftMetrics::InputSeries DriftMetrics::AddInput(const std::string& model,
                                                 const std::string& version,
                                                 const std::string& input, bool with_psi) {
  const std::map<std::string, std::string> labels = {
      {"model", model}, {"version", version}, {"input", input}};
  InputSeries series;
  series.values = &values_.Add(labels);
  series.out_of_range = &out_of_range_.Add(labels);
  if (with_psi) series.psi = &psi_.Add(labels);
  return series;
}

void DriftMetrics::CountDropped(const std::string& model, const std::string& version,
                                const std::string& reason) {
  dropped_.Add({{"model", model}, {"version", version}, {"reason", reason}}).Increment();
}

void DriftMetrics::RemoveDropped(const std::string& model, const std::string& version) {
  for (const char* reason : {"queue_full", "failed"}) {
    dropped_.Remove(&dropped_.Add({{"model", model}, {"version", version}, {"reason", reason}}));
  }
}

void DriftMetrics::Remove(const VersionSeries& series) {
  samples_.Remove(series.samples);
  agreements_.Remove(series.agreements);
  sqnr_.Remove(series.sqnr_db);
  cosine_.Remove(series.cosine);
  max_abs_error_.Remove(series.max_abs_error);
  dropped_.Remove(series.dropped_queue_full);
  dropped_.Remove(series.dropped_failed);
  if (series.offline_float_top1 != nullptr) offline_float_top1_.Remove(series.offline_float_top1);
  if (series.offline_quantized_top1 != nullptr) {
    offline_quantized_top1_.Remove(series.offline_quantized_top1);
  }
  if (series.offline_top1_agreement != nullptr) {
    offline_agreement_.Remove(series.offline_top1_agreement);
  }
}

void DriftMetrics::Remove(const InputSeries& series) {
  values_.Remove(series.values);
  out_of_range_.Remove(series.out_of_range);
  if (series.psi != nullptr) psi_.Remove(series.psi);
}

}  // namespace octet::server
