#ifndef OCTET_SERVER_STORE_DATASET_STORE_H_
#define OCTET_SERVER_STORE_DATASET_STORE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "octet/v1/dataset_service.pb.h"
#include "server/store/blob_store.h"
#include "server/store/storage.h"

namespace octet::server {

// Named, immutable datasets: a blob (.npy or .npz) and its description. Thread-safe.
class DatasetStore {
 public:
  explicit DatasetStore(Storage* storage) : storage_(storage) {}

  // Records the finished `blob` under `dataset.name()` with `dataset`'s description (format,
  // arrays, sample count, labels); sha256, size and create time are filled in. The same bytes
  // under the same name return the existing dataset; other bytes under a taken name are
  // ALREADY_EXISTS. The blob is in place before the row that names it commits.
  absl::StatusOr<octet::v1::Dataset> Add(BlobStore::Writer& blob,
                                         const octet::v1::Dataset& dataset);

  absl::StatusOr<octet::v1::Dataset> Get(const std::string& name);

  struct Page {
    std::vector<octet::v1::Dataset> datasets;
    std::string next_page_token;
  };
  // Datasets in name order after `page_token` ("" for the first page).
  absl::StatusOr<Page> List(int page_size, const std::string& page_token);

  // FAILED_PRECONDITION while a queued or running job uses the dataset.
  absl::Status Delete(const std::string& name);

 private:
  Storage* const storage_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_STORE_DATASET_STORE_H_
