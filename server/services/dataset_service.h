#ifndef OCTET_SERVER_SERVICES_DATASET_SERVICE_H_
#define OCTET_SERVER_SERVICES_DATASET_SERVICE_H_

#include <cstdint>

#include "octet/v1/dataset_service.grpc.pb.h"
#include "server/store/blob_store.h"
#include "server/store/dataset_store.h"

namespace octet::server {

// octet.v1.DatasetService: uploads are checked (format, arrays, sample counts, labels, NaN/Inf)
// before anything is stored; TENSORS uploads are stored as .npz. Thread-safe.
class DatasetServiceImpl final : public octet::v1::DatasetService::Service {
 public:
  DatasetServiceImpl(DatasetStore* store, BlobStore* blobs, int64_t max_dataset_bytes)
      : store_(store), blobs_(blobs), max_dataset_bytes_(max_dataset_bytes) {}

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
  DatasetStore* const store_;
  BlobStore* const blobs_;
  const int64_t max_dataset_bytes_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_SERVICES_DATASET_SERVICE_H_
