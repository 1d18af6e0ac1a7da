#ifndef OCTET_SERVER_SERVICES_DATASET_SERVICE_H_
#define OCTET_SERVER_SERVICES_DATASET_SERVICE_H_

#include "octet/v1/dataset_service.grpc.pb.h"
#include "server/core/dataset_catalog.h"

namespace octet::server {

// octet.v1.DatasetService over the DatasetCatalog. Thread-safe.
class DatasetServiceImpl final : public octet::v1::DatasetService::Service {
 public:
  explicit DatasetServiceImpl(DatasetCatalog* catalog) : catalog_(catalog) {}

  grpc::Status UploadDataset(grpc::ServerContext* context,
                             grpc::ServerReader<octet::v1::UploadDatasetRequest>* reader,
                             octet::v1::Dataset* response) override;
  grpc::Status GetDataset(grpc::ServerContext* context, const octet::v1::GetDatasetRequest* request,
                          octet::v1::Dataset* response) override;
  grpc::Status ListDatasets(grpc::ServerContext* context,
                            const octet::v1::ListDatasetsRequest* request,
                            octet::v1::ListDatasetsResponse* response) override;
  grpc::Status DeleteDataset(grpc::ServerContext* context,
                             const octet::v1::DeleteDatasetRequest* request,
                             octet::v1::DeleteDatasetResponse* response) override;

 private:
  DatasetCatalog* const catalog_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_SERVICES_DATASET_SERVICE_H_
