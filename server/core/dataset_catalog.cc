#include "server/core/dataset_catalog.h"

#include <cstdio>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/io/npz.h"
#include "server/store/model_store.h"

namespace octet::server {
namespace {

namespace v1 = octet::v1;

// `status` with "dataset 'NAME': " before its message.
absl::Status Named(const std::string& name, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("dataset '", name, "': ", status.message()));
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

absl::StatusOr<std::unique_ptr<DatasetCatalog::Upload>> DatasetCatalog::StartUpload(
    const v1::UploadDatasetHeader& header) {
  OCTET_RETURN_IF_ERROR(ValidateName(header.name(), "header.name"));
  if (!v1::DatasetFormat_IsValid(header.format())) {
    return absl::InvalidArgumentError(
        absl::StrCat("header.format has the unknown value ", header.format()));
  }
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> blob,
                         blobs_->NewWriter(max_dataset_bytes_));
  return std::unique_ptr<Upload>(new Upload(this, header, std::move(blob)));
}

DatasetCatalog::Upload::Upload(DatasetCatalog* catalog, v1::UploadDatasetHeader header,
                               std::unique_ptr<BlobStore::Writer> blob)
    : catalog_(catalog),
      header_(std::move(header)),
      blob_(std::move(blob)),
      batches_(catalog->max_dataset_bytes_) {}

absl::Status DatasetCatalog::Upload::AddChunk(const std::string& bytes) {
  if (!batches_.empty()) {
    return absl::InvalidArgumentError("an upload sends file chunks or tensor batches, not both");
  }
  if (first_bytes_.size() < 8) first_bytes_ += bytes.substr(0, 8);
  if (absl::Status s = blob_->Append(bytes); !s.ok()) return Named(header_.name(), s);
  return absl::OkStatus();
}

absl::Status DatasetCatalog::Upload::AddBatch(const v1::TensorBatch& batch) {
  if (blob_->size() > 0) {
    return absl::InvalidArgumentError("an upload sends file chunks or tensor batches, not both");
  }
  return batches_.Add(batch);
}

absl::StatusOr<v1::DatasetFormat> DatasetCatalog::Upload::Format() {
  const v1::DatasetFormat format = header_.format();
  if (!batches_.empty()) {
    if (format != v1::DATASET_FORMAT_UNSPECIFIED && format != v1::DATASET_FORMAT_TENSORS) {
      return absl::InvalidArgumentError(absl::StrCat("header.format is ",
                                                     v1::DatasetFormat_Name(format),
                                                     " but the upload sent tensor batches"));
    }
    OCTET_ASSIGN_OR_RETURN(std::vector<NamedTensor> arrays, batches_.Finish());
    OCTET_RETURN_IF_ERROR(StoreAsNpz(arrays, *catalog_->blobs_, *blob_));
    return v1::DATASET_FORMAT_TENSORS;
  }
  if (blob_->size() == 0) {
    return absl::InvalidArgumentError("the upload is empty: no chunks and no batches");
  }
  const v1::DatasetFormat detected = DetectDatasetFormat(first_bytes_);
  if (detected == v1::DATASET_FORMAT_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "the uploaded file is neither .npy nor .npz (by its first bytes)");
  }
  if (format != v1::DATASET_FORMAT_UNSPECIFIED && format != detected) {
    return absl::InvalidArgumentError(
        absl::StrCat("header.format is ", v1::DatasetFormat_Name(format), " but the file is ",
                     v1::DatasetFormat_Name(detected)));
  }
  return detected;
}

absl::StatusOr<v1::Dataset> DatasetCatalog::Upload::Finish() {
  OCTET_ASSIGN_OR_RETURN(const v1::DatasetFormat format, Format());
  OCTET_RETURN_IF_ERROR(blob_->Finish().status());
  absl::StatusOr<std::vector<NamedTensor>> arrays =
      ReadDatasetFile(blob_->temp_path(), format, catalog_->max_dataset_bytes_);
  if (!arrays.ok()) return Named(header_.name(), arrays.status());
  v1::Dataset dataset;
  dataset.set_name(header_.name());
  dataset.set_description(header_.description());
  dataset.set_format(format);
  if (absl::Status s = DescribeDataset(*arrays, &dataset); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset '", header_.name(), "': ", s.message()));
  }
  return catalog_->store_->Add(*blob_, dataset);
}

}  // namespace octet::server
