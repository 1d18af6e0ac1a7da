// Every metric family octetd exports, declared in one place and built on a registry that the
// caller owns (tests build their own).
#ifndef OCTET_SERVER_METRICS_SERVER_METRICS_H_
#define OCTET_SERVER_METRICS_SERVER_METRICS_H_

#include <memory>
#include <string>

#include "grpcpp/support/server_interceptor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace octet::server {

// Thread-safe (prometheus-cpp's metrics are).
class ServerMetrics {
 public:
  explicit ServerMetrics(prometheus::Registry& registry);

  // `method` is the gRPC method without the leading slash
  // ("inference.GRPCInferenceService/ModelInfer"); `code` a gRPC code name ("OK").
  void RecordRpc(const std::string& method, const std::string& code, double seconds);

  void RecordInference(const std::string& model, const std::string& version,
                       const std::string& precision, const std::string& code, double seconds);

  // The serving layer (InferenceScheduler): a request's time queued and its batch's computation;
  // the rows of a batch run; requests waiting per version; requests refused or dropped, by reason
  // ("queue_full", "deadline", "cancelled").
  void RecordInferenceTimes(const std::string& model, const std::string& version,
                            const std::string& precision, double queued_seconds,
                            double compute_seconds);
  void RecordBatch(const std::string& model, const std::string& version, int64_t rows);
  void SetQueueDepth(const std::string& model, const std::string& version, int64_t depth);
  void RecordRejected(const std::string& model, const std::string& version,
                      const std::string& reason);

  // A job that ended in `state` ("SUCCEEDED", "FAILED", "CANCELLED") after running `seconds`.
  void RecordJobEnd(const std::string& state, double seconds);
  void SetJobsRunning(int running);

 private:
  prometheus::Family<prometheus::Counter>& grpc_requests_;
  prometheus::Family<prometheus::Histogram>& grpc_duration_;
  prometheus::Family<prometheus::Counter>& inference_requests_;
  prometheus::Family<prometheus::Histogram>& inference_duration_;
  prometheus::Family<prometheus::Histogram>& queue_duration_;
  prometheus::Family<prometheus::Histogram>& compute_duration_;
  prometheus::Family<prometheus::Histogram>& batch_size_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Family<prometheus::Counter>& jobs_;
  prometheus::Family<prometheus::Histogram>& job_duration_;
  prometheus::Gauge& jobs_running_;
};

// Records every RPC's method, code and duration in ServerMetrics.
class MetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(ServerMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  ServerMetrics* metrics_;
};

// "INVALID_ARGUMENT" for grpc::StatusCode::INVALID_ARGUMENT.
std::string GrpcCodeName(int code);

}  // namespace octet::server

#endif  // OCTET_SERVER_METRICS_SERVER_METRICS_H_
