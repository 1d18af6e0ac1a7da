#include "server/store/storage.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
CREATE TABLE IF NOT EXISTS model_serving (
  name TEXT PRIMARY KEY REFERENCES models(name) ON DELETE CASCADE,
  -- octet.v1.ServingConfig.
  config BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS datasets (
  name TEXT PRIMARY KEY,
  sha256 TEXT NOT NULL,
  create_time_ms INTEGER NOT NULL,
  -- octet.v1.Dataset: format, size, arrays, labels.
  metadata BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS datasets_by_sha256 ON datasets(sha256);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  -- Creation order, for listing and for running queued jobs first come, first served.
  seq INTEGER NOT NULL UNIQUE,
  model TEXT NOT NULL,
  -- The version quantized (resolved at creation; never 0).
  model_version INTEGER NOT NULL,
  state INTEGER NOT NULL,
  calibration_dataset TEXT NOT NULL,
  evaluation_dataset TEXT NOT NULL,
  idempotency_key TEXT UNIQUE,
  -- octet.v1.Job without report_json and manifest_json (blobs named in artifacts).
  job BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state);
-- What a job stored beside the model version it created.
CREATE TABLE IF NOT EXISTS artifacts (
  model TEXT NOT NULL,
  version INTEGER NOT NULL,
  job_id TEXT NOT NULL,
  report_sha256 TEXT NOT NULL,
  manifest_sha256 TEXT NOT NULL,
  PRIMARY KEY (model, version),
  FOREIGN KEY (model, version) REFERENCES model_versions(name, version) ON DELETE CASCADE
);
)sql";

// Every column that names a blob.
constexpr absl::string_view kBlobReferences[] = {
    "SELECT 1 FROM model_versions WHERE sha256 = ?1 LIMIT 1",
    "SELECT 1 FROM datasets WHERE sha256 = ?1 LIMIT 1",
    "SELECT 1 FROM artifacts WHERE report_sha256 = ?1 OR manifest_sha256 = ?1 LIMIT 1",
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
    if (!storage->blobs_->Contains(sha)) continue;
    OCTET_ASSIGN_OR_RETURN(bool matches, storage->blobs_->Matches(sha));
    if (!matches) storage->corrupt_blobs_.push_back(sha);
  }
  return storage;
}

absl::StatusOr<std::string> Storage::DescribeReferences(const std::string& sha256) {
  std::vector<std::string> names;
  OCTET_ASSIGN_OR_RETURN(Statement models,
                         db_->Prepare("SELECT 'model ''' || name || ''' version ' || version FROM "
                                      "model_versions WHERE sha256 = ?1 UNION ALL "
                                      "SELECT 'dataset ''' || name || '''' FROM datasets WHERE "
                                      "sha256 = ?1 UNION ALL "
                                      "SELECT 'the artifact files of model ''' || model || "
                                      "''' version ' || version FROM artifacts WHERE "
                                      "report_sha256 = ?1 OR manifest_sha256 = ?1"));
  models.Bind(1, sha256);
  while (true) {
    OCTET_ASSIGN_OR_RETURN(bool row, models.Step());
    if (!row) break;
    names.push_back(models.ColumnText(0));
  }
  return absl::StrJoin(names, ", ");
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
