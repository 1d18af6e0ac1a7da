#include "server/services/dataset_service.h"

#include <cstdio>
#include <fstream>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "server/datasets/dataset_file.h"
#include "server/services/grpc_status.h"
#include "server/serving/model_registry.h"
#include "server/store/model_store.h"

namespace octet::server {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// Writes tensor-batch uploads as an .npz into `blob`, through a file under the store's tmp/
// (which a restart clears).
absl::Status StoreAsNpz(const std::vector<NamedTensor>& arrays, BlobStore& blobs,
                        BlobStore::Writer& blob) {
  absl::BitGen gen;
  const std::string path =
      absl::StrCat(blobs.root(), "/tmp/tensors-", absl::Uniform<uint64_t>(gen), ".npz");
  absl::Status status = WriteNpzFile(path, arrays);
  if (status.ok()) {
    absl::StatusOr<std::string> bytes = ReadFile(path);
    status = bytes.ok() ? blob.Append(*bytes) : bytes.status();
  }
  std::remove(path.c_str());
  return status;
}

}  // namespace

grpc::Status DatasetServiceImpl::UploadDataset(
    grpc::ServerContext*, grpc::ServerReader<octet::v1::UploadDatasetRequest>* reader,
    octet::v1::Dataset* response) {
  octet::v1::UploadDatasetRequest message;
  if (!reader->Read(&message) || !message.has_header()) {
    return Invalid("the first message of UploadDataset must be a header");
  }
  const octet::v1::UploadDatasetHeader header = message.header();
  if (absl::Status s = ValidateName(header.name(), "header.name"); !s.ok()) return ToGrpcStatus(s);
  if (!octet::v1::DatasetFormat_IsValid(header.format())) {
    return Invalid(absl::StrCat("header.format has the unknown value ", header.format()));
  }
  absl::StatusOr<std::unique_ptr<BlobStore::Writer>> blob = blobs_->NewWriter(max_dataset_bytes_);
  if (!blob.ok()) return ToGrpcStatus(blob.status());
  TensorBatchAccumulator batches(max_dataset_bytes_);
  std::string first_bytes;
  while (reader->Read(&message)) {
    if (message.has_chunk()) {
      if (!batches.empty())
        return Invalid("an upload sends file chunks or tensor batches, not both");
      if (first_bytes.size() < 8) first_bytes += message.chunk().substr(0, 8);
      if (absl::Status s = (*blob)->Append(message.chunk()); !s.ok()) {
        return ToGrpcStatus(
            absl::Status(s.code(), absl::StrCat("dataset '", header.name(), "': ", s.message())));
      }
    } else if (message.has_batch()) {
      if ((*blob)->size() > 0) {
        return Invalid("an upload sends file chunks or tensor batches, not both");
      }
      if (absl::Status s = batches.Add(message.batch()); !s.ok()) return ToGrpcStatus(s);
    } else {
      return Invalid("only chunks or tensor batches may follow the UploadDataset header");
    }
  }

  octet::v1::DatasetFormat format = header.format();
  if (!batches.empty()) {
    if (format != octet::v1::DATASET_FORMAT_UNSPECIFIED &&
        format != octet::v1::DATASET_FORMAT_TENSORS) {
      return Invalid(absl::StrCat("header.format is ", octet::v1::DatasetFormat_Name(format),
                                  " but the upload sent tensor batches"));
    }
    format = octet::v1::DATASET_FORMAT_TENSORS;
    absl::StatusOr<std::vector<NamedTensor>> arrays = batches.Finish();
    if (!arrays.ok()) return ToGrpcStatus(arrays.status());
    if (absl::Status s = StoreAsNpz(*arrays, *blobs_, **blob); !s.ok()) return ToGrpcStatus(s);
  } else {
    if ((*blob)->size() == 0) return Invalid("the upload is empty: no chunks and no batches");
    const octet::v1::DatasetFormat detected = DetectDatasetFormat(first_bytes);
    if (detected == octet::v1::DATASET_FORMAT_UNSPECIFIED) {
      return Invalid("the uploaded file is neither .npy nor .npz (by its first bytes)");
    }
    if (format != octet::v1::DATASET_FORMAT_UNSPECIFIED && format != detected) {
      return Invalid(absl::StrCat("header.format is ", octet::v1::DatasetFormat_Name(format),
                                  " but the file is ", octet::v1::DatasetFormat_Name(detected)));
    }
    format = detected;
  }
  if (absl::Status s = (*blob)->Finish().status(); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<std::vector<NamedTensor>> arrays =
      ReadDatasetFile((*blob)->temp_path(), format, max_dataset_bytes_);
  if (!arrays.ok()) {
    return ToGrpcStatus(
        absl::Status(arrays.status().code(),
                     absl::StrCat("dataset '", header.name(), "': ", arrays.status().message())));
  }
  octet::v1::Dataset dataset;
  dataset.set_name(header.name());
  dataset.set_description(header.description());
  dataset.set_format(format);
  if (absl::Status s = DescribeDataset(*arrays, &dataset); !s.ok()) {
    return Invalid(absl::StrCat("dataset '", header.name(), "': ", s.message()));
  }
  absl::StatusOr<octet::v1::Dataset> stored = store_->Add(**blob, dataset);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  *response = *std::move(stored);
  return grpc::Status::OK;
}

grpc::Status DatasetServiceImpl::GetDataset(grpc::ServerContext*,
                                            const octet::v1::GetDatasetRequest* request,
                                            octet::v1::Dataset* response) {
  absl::StatusOr<octet::v1::Dataset> dataset = store_->Get(request->name());
  if (!dataset.ok()) return ToGrpcStatus(dataset.status());
  *response = *std::move(dataset);
  return grpc::Status::OK;
}

grpc::Status DatasetServiceImpl::ListDatasets(grpc::ServerContext*,
                                              const octet::v1::ListDatasetsRequest* request,
                                              octet::v1::ListDatasetsResponse* response) {
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return Invalid(
        absl::StrCat("page_size must be 0 to ", kMaxPageSize, ", got ", request->page_size()));
  }
  const int page_size = request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  absl::StatusOr<DatasetStore::Page> page = store_->List(page_size, request->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (octet::v1::Dataset& d : page->datasets) *response->add_datasets() = std::move(d);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status DatasetServiceImpl::DeleteDataset(grpc::ServerContext*,
                                               const octet::v1::DeleteDatasetRequest* request,
                                               octet::v1::DeleteDatasetResponse*) {
  return ToGrpcStatus(store_->Delete(request->name()));
}

}  // namespace octet::server
