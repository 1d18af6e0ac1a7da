#include "server/store/storage.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet::server {
namespace {

constexpr absl::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS models (
  name TEXT PRIMARY KEY,
  default_version INTEGER NOT NULL,
  next_version INTEGER NOT NULL,
  create_time_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS model_versions (
  name TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  precision INTEGER NOT NULL,
  create_time_ms INTEGER NOT NULL,
  -- octet.v1.ModelVersion: description, tensor specs, opset, provenance.
  metadata BLOB NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE INDEX IF NOT EXISTS model_versions_by_sha256 ON model_versions(sha256);
)sql";

// Every column that names a blob. Later tables (datasets, artifacts) add theirs here.
constexpr absl::string_view kBlobReferences[] = {
    "SELECT 1 FROM model_versions WHERE sha256 = ?1 LIMIT 1",
};

}  // namespace

absl::StatusOr<std::unique_ptr<Storage>> Storage::Open(const std::string& data_dir) {
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> blobs, BlobStore::Open(data_dir));
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                         Database::Open(absl::StrCat(data_dir, "/octet.db"), kSchema));
  std::unique_ptr<Storage> storage(new Storage(std::move(db), std::move(blobs)));
  absl::MutexLock lock(&storage->mu_);
  OCTET_ASSIGN_OR_RETURN(std::vector<std::string> hashes, storage->blobs_->List());
  for (const std::string& sha : hashes) {
    OCTET_RETURN_IF_ERROR(storage->RemoveBlobIfUnreferenced(sha));
  }
  return storage;
}

absl::StatusOr<bool> Storage::IsReferenced(const std::string& sha256) {
  for (absl::string_view sql : kBlobReferences) {
    OCTET_ASSIGN_OR_RETURN(Statement query, db_->Prepare(sql));
    query.Bind(1, sha256);
    OCTET_ASSIGN_OR_RETURN(bool row, query.Step());
    if (row) return true;
  }
  return false;
}

absl::Status Storage::RemoveBlobIfUnreferenced(const std::string& sha256) {
  OCTET_ASSIGN_OR_RETURN(bool referenced, IsReferenced(sha256));
  if (referenced || !blobs_->Contains(sha256)) return absl::OkStatus();
  return blobs_->Remove(sha256);
}

}  // namespace octet::server
