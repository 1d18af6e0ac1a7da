#ifndef OCTET_SERVER_CORE_DATASET_CATALOG_H_
#define OCTET_SERVER_CORE_DATASET_CATALOG_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "octet/v1/dataset_service.pb.h"
#include "server/core/dataset_file.h"
#include "server/store/blob_store.h"
#include "server/store/dataset_store.h"

namespace octet::server {

// The datasets octetd holds, behind DatasetService: an upload is checked whole (format, arrays,
// sample counts, labels, NaN/Inf, size) before anything is stored, and tensor-batch uploads are
// stored as .npz. Thread-safe; each Upload is used by one thread.
class DatasetCatalog {
 public:
  // One upload in progress: file chunks (.npy or .npz) or tensor batches, never both, then
  // Finish. Nothing is stored unless Finish succeeds.
  class Upload {
   public:
    // INVALID_ARGUMENT after batches; RESOURCE_EXHAUSTED past the size limit.
    absl::Status AddChunk(const std::string& bytes);
    // INVALID_ARGUMENT after chunks or for a batch unlike the first; RESOURCE_EXHAUSTED past the
    // size limit.
    absl::Status AddBatch(const octet::v1::TensorBatch& batch);
    // Checks the upload as a whole and stores it: INVALID_ARGUMENT naming the problem (empty, not
    // .npy/.npz, a format other than the header's, arrays that do not make a dataset),
    // ALREADY_EXISTS for a taken name.
    absl::StatusOr<octet::v1::Dataset> Finish();

   private:
    friend class DatasetCatalog;
    Upload(DatasetCatalog* catalog, octet::v1::UploadDatasetHeader header,
           std::unique_ptr<BlobStore::Writer> blob);
    // The upload's format, checked against the header's, with tensor batches written as .npz.
    absl::StatusOr<octet::v1::DatasetFormat> Format();

    DatasetCatalog* const catalog_;
    const octet::v1::UploadDatasetHeader header_;
    std::unique_ptr<BlobStore::Writer> blob_;
    TensorBatchAccumulator batches_;
    std::string first_bytes_;  // the file's first bytes, which tell .npy from .npz
  };

  DatasetCatalog(DatasetStore* store, BlobStore* blobs, int64_t max_dataset_bytes)
      : store_(store), blobs_(blobs), max_dataset_bytes_(max_dataset_bytes) {}

  // INVALID_ARGUMENT for a bad name or an unknown format in `header`.
  absl::StatusOr<std::unique_ptr<Upload>> StartUpload(const octet::v1::UploadDatasetHeader& header);

  DatasetStore& store() { return *store_; }

 private:
  DatasetStore* const store_;
  BlobStore* const blobs_;
  const int64_t max_dataset_bytes_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_DATASET_CATALOG_H_
