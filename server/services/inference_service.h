#ifndef OCTET_SERVER_SERVICES_INFERENCE_SERVICE_H_
#define OCTET_SERVER_SERVICES_INFERENCE_SERVICE_H_

#include <string>

#include "inference/open_inference_grpc.grpc.pb.h"
#include "server/core/drift_monitor.h"
#include "server/core/inference_scheduler.h"
#include "server/core/model_registry.h"
#include "server/metrics/server_metrics.h"

namespace octet::server {

// The KServe v2 / Open Inference Protocol's GRPCInferenceService. Model versions are the
// protocol's version strings ("" for the default version). ModelInfer is a callback method: the
// gRPC thread decodes the request and submits it to the scheduler, whose worker replies; no gRPC
// thread waits for a computation. Thread-safe.
class InferenceServiceImpl final
    : public inference::GRPCInferenceService::WithCallbackMethod_ModelInfer<
          inference::GRPCInferenceService::Service> {
 public:
  // `drift` may be null (no monitoring).
  InferenceServiceImpl(ModelRegistry* registry, InferenceScheduler* scheduler, DriftMonitor* drift,
                       ServerMetrics* metrics, std::string server_version)
      : registry_(registry),
        scheduler_(scheduler),
        drift_(drift),
        metrics_(metrics),
        server_version_(std::move(server_version)) {}

  grpc::Status ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                          inference::ServerLiveResponse* response) override;
  grpc::Status ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                           inference::ServerReadyResponse* response) override;
  grpc::Status ModelReady(grpc::ServerContext*, const inference::ModelReadyRequest* request,
                          inference::ModelReadyResponse* response) override;
  grpc::Status ServerMetadata(grpc::ServerContext*, const inference::ServerMetadataRequest*,
                              inference::ServerMetadataResponse* response) override;
  grpc::Status ModelMetadata(grpc::ServerContext*, const inference::ModelMetadataRequest* request,
                             inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response) override;

 private:
  // Decodes `request` and submits it for `model`; the worker replies.
  void Serve(grpc::CallbackServerContext* context, const inference::ModelInferRequest* request,
             inference::ModelInferResponse* response, grpc::ServerUnaryReactor* reactor,
             std::shared_ptr<const LoadedModel> model, absl::Time start);

  ModelRegistry* const registry_;
  InferenceScheduler* const scheduler_;
  DriftMonitor* const drift_;
  ServerMetrics* const metrics_;
  const std::string server_version_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_SERVICES_INFERENCE_SERVICE_H_
