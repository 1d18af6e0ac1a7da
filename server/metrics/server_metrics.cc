#include "server/metrics/server_metrics.h"

#include <chrono>

#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "grpcpp/support/interceptor.h"

namespace octet::server {
namespace {

// Latency buckets from 100 µs to 10 s: int8 inference of a small model takes well under a
// millisecond, an upload of a large model seconds.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *buckets;
}

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(ServerMetrics* metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      metrics_->RecordRpc(method_, GrpcCodeName(methods->GetSendStatus().error_code()), seconds);
    }
    methods->Proceed();
  }

 private:
  ServerMetrics* metrics_;
  std::string method_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

std::string GrpcCodeName(int code) {
  static constexpr absl::string_view kNames[] = {"OK",
                                                 "CANCELLED",
                                                 "UNKNOWN",
                                                 "INVALID_ARGUMENT",
                                                 "DEADLINE_EXCEEDED",
                                                 "NOT_FOUND",
                                                 "ALREADY_EXISTS",
                                                 "PERMISSION_DENIED",
                                                 "RESOURCE_EXHAUSTED",
                                                 "FAILED_PRECONDITION",
                                                 "ABORTED",
                                                 "OUT_OF_RANGE",
                                                 "UNIMPLEMENTED",
                                                 "INTERNAL",
                                                 "UNAVAILABLE",
                                                 "DATA_LOSS",
                                                 "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(std::size(kNames))) return "UNKNOWN";
  return std::string(kNames[code]);
}

ServerMetrics::ServerMetrics(prometheus::Registry& registry)
    : grpc_requests_(prometheus::BuildCounter()
                         .Name("octet_grpc_requests_total")
                         .Help("gRPC requests handled, by method and status code")
                         .Register(registry)),
      grpc_duration_(prometheus::BuildHistogram()
                         .Name("octet_grpc_request_duration_seconds")
                         .Help("Time from receiving a gRPC request to sending its status")
                         .Register(registry)),
      inference_requests_(prometheus::BuildCounter()
                              .Name("octet_inference_requests_total")
                              .Help("ModelInfer requests, by model version and status code")
                              .Register(registry)),
      inference_duration_(prometheus::BuildHistogram()
                              .Name("octet_inference_request_duration_seconds")
                              .Help("ModelInfer time from decoding the request to its reply "
                                    "(queueing and computation included)")
                              .Register(registry)),
      queue_duration_(prometheus::BuildHistogram()
                          .Name("octet_inference_queue_duration_seconds")
                          .Help("Time a ModelInfer request waited for a worker (and its batch)")
                          .Register(registry)),
      compute_duration_(prometheus::BuildHistogram()
                            .Name("octet_inference_compute_duration_seconds")
                            .Help("Computation of the batch a ModelInfer request ran in")
                            .Register(registry)),
      batch_size_(prometheus::BuildHistogram()
                      .Name("octet_inference_batch_rows")
                      .Help("Rows (first-axis size, padding included) of each batch run")
                      .Register(registry)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("octet_inference_queue_depth")
                       .Help("ModelInfer requests waiting for a worker, per model version")
                       .Register(registry)),
      rejected_(prometheus::BuildCounter()
                    .Name("octet_inference_rejected_total")
                    .Help("ModelInfer requests refused or dropped before computing, by reason "
                          "(queue_full, deadline, cancelled)")
                    .Register(registry)),
      jobs_(prometheus::BuildCounter()
                .Name("octet_quantization_jobs_total")
                .Help("Quantization jobs that ended, by final state")
                .Register(registry)),
      job_duration_(prometheus::BuildHistogram()
                        .Name("octet_quantization_job_duration_seconds")
                        .Help("Time a quantization job ran, from start to its final state")
                        .Register(registry)),
      jobs_running_(prometheus::BuildGauge()
                        .Name("octet_quantization_jobs_running")
                        .Help("Quantization jobs running now")
                        .Register(registry)
                        .Add({})) {}

void ServerMetrics::RecordJobEnd(const std::string& state, double seconds) {
  jobs_.Add({{"state", state}}).Increment();
  // Jobs take seconds to hours.
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200};
  job_duration_.Add({}, *buckets).Observe(seconds);
}

void ServerMetrics::SetJobsRunning(int running) { jobs_running_.Set(running); }

void ServerMetrics::RecordRpc(const std::string& method, const std::string& code, double seconds) {
  grpc_requests_.Add({{"method", method}, {"code", code}}).Increment();
  grpc_duration_.Add({{"method", method}}, LatencyBuckets()).Observe(seconds);
}

void ServerMetrics::RecordInference(const std::string& model, const std::string& version,
                                    const std::string& precision, const std::string& code,
                                    double seconds) {
  inference_requests_
      .Add({{"model", model}, {"version", version}, {"precision", precision}, {"code", code}})
      .Increment();
  inference_duration_
      .Add({{"model", model}, {"version", version}, {"precision", precision}}, LatencyBuckets())
      .Observe(seconds);
}

void ServerMetrics::RecordInferenceTimes(const std::string& model, const std::string& version,
                                         const std::string& precision, double queued_seconds,
                                         double compute_seconds) {
  const prometheus::Labels labels{{"model", model}, {"version", version}, {"precision", precision}};
  queue_duration_.Add(labels, LatencyBuckets()).Observe(queued_seconds);
  compute_duration_.Add(labels, LatencyBuckets()).Observe(compute_seconds);
}

void ServerMetrics::RecordBatch(const std::string& model, const std::string& version,
                                int64_t rows) {
  static const auto* const buckets =
      new prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256};
  batch_size_.Add({{"model", model}, {"version", version}}, *buckets)
      .Observe(static_cast<double>(rows));
}

void ServerMetrics::SetQueueDepth(const std::string& model, const std::string& version,
                                  int64_t depth) {
  queue_depth_.Add({{"model", model}, {"version", version}}).Set(static_cast<double>(depth));
}

void ServerMetrics::RecordRejected(const std::string& model, const std::string& version,
                                   const std::string& reason) {
  rejected_.Add({{"model", model}, {"version", version}, {"reason", reason}}).Increment();
}

grpc::experimental::Interceptor* MetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  absl::string_view method = info->method();
  absl::ConsumePrefix(&method, "/");
  return new MetricsInterceptor(metrics_, std::string(method));
}

}  // namespace octet::server
