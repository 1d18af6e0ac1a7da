#ifndef OCTET_SERVER_SERVICES_MODEL_SERVICE_H_
#define OCTET_SERVER_SERVICES_MODEL_SERVICE_H_

#include <cstdint>

#include "octet/v1/model_service.grpc.pb.h"
#include "server/core/drift_monitor.h"
#include "server/core/model_registry.h"
#include "server/store/blob_store.h"

namespace octet::server {

// octet.v1.ModelService over a ModelRegistry. Thread-safe.
class ModelServiceImpl final : public octet::v1::ModelService::Service {
 public:
  ModelServiceImpl(ModelRegistry* registry, BlobStore* blobs, DriftMonitor* drift,
                   int64_t max_model_bytes)
      : registry_(registry), blobs_(blobs), drift_(drift), max_model_bytes_(max_model_bytes) {}

  grpc::Status UploadModel(grpc::ServerContext* context,
                           grpc::ServerReader<octet::v1::UploadModelRequest>* reader,
                           octet::v1::UploadModelResponse* response) override;
  grpc::Status DownloadModel(grpc::ServerContext* context,
                             const octet::v1::DownloadModelRequest* request,
                             grpc::ServerWriter<octet::v1::DownloadModelResponse>* writer) override;
  grpc::Status GetModel(grpc::ServerContext* context, const octet::v1::GetModelRequest* request,
                        octet::v1::Model* response) override;
  grpc::Status ListModels(grpc::ServerContext* context, const octet::v1::ListModelsRequest* request,
                          octet::v1::ListModelsResponse* response) override;
  grpc::Status DeleteModel(grpc::ServerContext* context,
                           const octet::v1::DeleteModelRequest* request,
                           octet::v1::DeleteModelResponse* response) override;
  grpc::Status DescribeRuntime(grpc::ServerContext* context,
                               const octet::v1::DescribeRuntimeRequest* request,
                               octet::v1::ModelRuntime* response) override;
  grpc::Status SetDefaultVersion(grpc::ServerContext* context,
                                 const octet::v1::SetDefaultVersionRequest* request,
                                 octet::v1::Model* response) override;
  grpc::Status SetServingConfig(grpc::ServerContext* context,
                                const octet::v1::SetServingConfigRequest* request,
                                octet::v1::Model* response) override;
  grpc::Status GetDrift(grpc::ServerContext* context, const octet::v1::GetDriftRequest* request,
                        octet::v1::DriftReport* response) override;

 private:
  ModelRegistry* const registry_;
  BlobStore* const blobs_;
  DriftMonitor* const drift_;
  const int64_t max_model_bytes_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_SERVICES_MODEL_SERVICE_H_
