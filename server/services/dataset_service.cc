#include "server/services/dataset_service.h"

#include "server/services/grpc_status.h"
#include "server/services/request_checks.h"

namespace octet::server {

grpc::Status DatasetServiceImpl::UploadDataset(
    grpc::ServerContext*, grpc::ServerReader<octet::v1::UploadDatasetRequest>* reader,
    octet::v1::Dataset* response) {
  octet::v1::UploadDatasetRequest message;
  if (grpc::Status s = ReadUploadHeader(reader, &message, "UploadDataset"); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<DatasetCatalog::Upload>> upload =
      catalog_->StartUpload(message.header());
  if (!upload.ok()) return ToGrpcStatus(upload.status());
  while (reader->Read(&message)) {
    absl::Status added;
    if (message.has_chunk()) {
      added = (*upload)->AddChunk(message.chunk());
    } else if (message.has_batch()) {
      added = (*upload)->AddBatch(message.batch());
    } else {
      return InvalidArgument("only chunks or tensor batches may follow the UploadDataset header");
    }
    if (!added.ok()) return ToGrpcStatus(added);
  }
  return Respond((*upload)->Finish(), response);
}

grpc::Status DatasetServiceImpl::GetDataset(grpc::ServerContext*,
                                            const octet::v1::GetDatasetRequest* request,
                                            octet::v1::Dataset* response) {
  return Respond(catalog_->store().Get(request->name()), response);
}

grpc::Status DatasetServiceImpl::ListDatasets(grpc::ServerContext*,
                                              const octet::v1::ListDatasetsRequest* request,
                                              octet::v1::ListDatasetsResponse* response) {
  absl::StatusOr<int> page_size = PageSize(request->page_size());
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  absl::StatusOr<DatasetStore::Page> page =
      catalog_->store().List(*page_size, request->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (octet::v1::Dataset& d : page->datasets) *response->add_datasets() = std::move(d);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status DatasetServiceImpl::DeleteDataset(grpc::ServerContext*,
                                               const octet::v1::DeleteDatasetRequest* request,
                                               octet::v1::DeleteDatasetResponse*) {
  return ToGrpcStatus(catalog_->store().Delete(request->name()));
}

}  // namespace octet::server
