#ifndef OCTET_SERVER_STORE_MODEL_STORE_H_
#define OCTET_SERVER_STORE_MODEL_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "octet/v1/model_service.pb.h"
#include "server/store/blob_store.h"
#include "server/store/storage.h"

namespace octet::server {

// OK for 1 to 128 characters from [A-Za-z0-9._-] starting with a letter or digit (so no path
// separators, no "." or ".."); otherwise INVALID_ARGUMENT naming `field`.
absl::Status ValidateName(absl::string_view name, absl::string_view field);

struct AddedVersion {
  octet::v1::ModelVersion version;
  // False when identical bytes already were a version of this name.
  bool created;
};

// Model names and their numbered, immutable versions. Version numbers are never reused. A name's
// default version is its first, until changed. Thread-safe.
class ModelStore {
 public:
  explicit ModelStore(Storage* storage) : storage_(storage) {}

  // Records `blob` (finished, not yet committed) as a version of `version.name()`, taking from
  // `version` the description, precision, tensor specs, opset and provenance. Identical bytes under
  // the same name return the existing version; new bytes under a taken name are ALREADY_EXISTS
  // unless `new_version`. The blob is committed before the row that names it.
  //
  // `in_transaction`, when given, runs inside the transaction that records the version (also when
  // identical bytes return an existing version) with the version's number, so that what it writes
  // commits together with the version or not at all.
  using TransactionStep = std::function<absl::Status(Database&, int64_t version)>;
  absl::StatusOr<AddedVersion> AddVersion(BlobStore::Writer& blob,
                                          const octet::v1::ModelVersion& version, bool new_version,
                                          const TransactionStep& in_transaction = nullptr);

  absl::StatusOr<octet::v1::Model> GetModel(const std::string& name);
  // `version` 0 selects the default version.
  absl::StatusOr<octet::v1::ModelVersion> GetVersion(const std::string& name, int64_t version);

  // Models in name order after `page_token` (a name, or "" for the first page).
  struct Page {
    std::vector<octet::v1::Model> models;
    std::string next_page_token;
  };
  absl::StatusOr<Page> ListModels(int page_size, const std::string& page_token);

  // Deletes one version (`version` > 0) or the whole name (0), with the artifacts jobs stored
  // beside them; returns the deleted versions. Deleting the default version while others remain,
  // or a version a queued or running job quantizes, is FAILED_PRECONDITION.
  absl::StatusOr<std::vector<int64_t>> Delete(const std::string& name, int64_t version);

  absl::StatusOr<octet::v1::Model> SetDefaultVersion(const std::string& name, int64_t version);
  // Replaces the model's serving settings (checked by the caller).
  absl::StatusOr<octet::v1::Model> SetServingConfig(const std::string& name,
                                                    const octet::v1::ServingConfig& config);
  // The same without checks, inside a transaction the caller holds (a TransactionStep).
  static absl::Status SetDefaultVersionIn(Database& db, const std::string& name, int64_t version);

 private:
  absl::StatusOr<octet::v1::Model> GetModelLocked(const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(storage_->mu());
  absl::StatusOr<octet::v1::ModelVersion> GetVersionLocked(const std::string& name, int64_t version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(storage_->mu());

  Storage* const storage_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_STORE_MODEL_STORE_H_
