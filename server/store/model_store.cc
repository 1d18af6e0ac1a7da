#include "server/store/model_store.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "engine/base/status_macros.h"
#include "octet/v1/quantization_service.pb.h"

namespace octet::server {
namespace {

using octet::v1::Model;
using octet::v1::ModelVersion;

constexpr size_t kMaxNameLength = 128;

constexpr absl::string_view kSelectVersion =
    "SELECT version, sha256, size_bytes, precision, create_time_ms, metadata FROM model_versions ";

absl::StatusOr<ModelVersion> ReadVersion(const Statement& row, const std::string& name,
                                         int64_t default_version) {
  ModelVersion version;
  if (!version.ParseFromString(row.ColumnBlob(5))) {
    return absl::DataLossError(absl::StrCat("the metadata of model '", name, "' is corrupt"));
  }
  version.set_name(name);
  version.set_version(row.ColumnInt64(0));
  version.set_sha256(row.ColumnText(1));
  version.set_size_bytes(row.ColumnInt64(2));
  version.set_precision(static_cast<octet::v1::Precision>(row.ColumnInt64(3)));
  const int64_t ms = row.ColumnInt64(4);
  version.mutable_create_time()->set_seconds(ms / 1000);
  version.mutable_create_time()->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
  version.set_is_default(version.version() == default_version);
  return version;
}

std::string ListVersions(const Model& model) {
  return absl::StrJoin(model.versions(), ", ", [](std::string* out, const ModelVersion& v) {
    absl::StrAppend(out, v.version());
  });
}

}  // namespace

absl::Status ValidateName(absl::string_view name, absl::string_view field) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is longer than ", kMaxNameLength, " characters"));
  }
  if (!absl::ascii_isalnum(name[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " '", name, "' must start with a letter or digit"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " '", absl::CHexEscape(name),
                       "' may hold only letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Model> ModelStore::GetModelLocked(const std::string& name) {
  Database& db = storage_->db();
  OCTET_ASSIGN_OR_RETURN(Statement model_row,
                         db.Prepare("SELECT default_version FROM models WHERE name = ?1"));
  model_row.Bind(1, name);
  OCTET_ASSIGN_OR_RETURN(bool found, model_row.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("model '", name, "' not found"));
  Model model;
  model.set_name(name);
  model.set_default_version(model_row.ColumnInt64(0));
  OCTET_ASSIGN_OR_RETURN(Statement serving,
                         db.Prepare("SELECT config FROM model_serving WHERE name = ?1"));
  serving.Bind(1, name);
  OCTET_ASSIGN_OR_RETURN(bool configured, serving.Step());
  if (configured && !model.mutable_serving()->ParseFromString(serving.ColumnBlob(0))) {
    return absl::DataLossError(absl::StrCat("the serving settings of model '", name,
                                            "' are unreadable"));
  }
  OCTET_ASSIGN_OR_RETURN(
      Statement rows, db.Prepare(absl::StrCat(kSelectVersion, "WHERE name = ?1 ORDER BY version")));
  rows.Bind(1, name);
  while (true) {
    OCTET_ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    OCTET_ASSIGN_OR_RETURN(*model.add_versions(), ReadVersion(rows, name, model.default_version()));
  }
  return model;
}

absl::StatusOr<AddedVersion> ModelStore::AddVersion(BlobStore::Writer& blob,
                                                    const ModelVersion& version, bool new_version,
                                                    const TransactionStep& in_transaction) {
  const std::string& name = version.name();
  OCTET_RETURN_IF_ERROR(ValidateName(name, "name"));
  OCTET_ASSIGN_OR_RETURN(std::string sha256, blob.Finish());
  absl::MutexLock lock(&storage_->mu());
  absl::StatusOr<Model> existing = GetModelLocked(name);
  if (!existing.ok() && !absl::IsNotFound(existing.status())) return existing.status();
  if (existing.ok()) {
    for (const ModelVersion& v : existing->versions()) {
      if (v.sha256() != sha256) continue;
      if (in_transaction == nullptr) return AddedVersion{v, false};
      OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Database::Transaction> transaction,
                             storage_->db().Begin());
      OCTET_RETURN_IF_ERROR(in_transaction(storage_->db(), v.version()));
      OCTET_RETURN_IF_ERROR(transaction->Commit());
      OCTET_ASSIGN_OR_RETURN(ModelVersion current, GetVersionLocked(name, v.version()));
      return AddedVersion{current, false};
    }
    if (!new_version) {
      return absl::AlreadyExistsError(
          absl::StrCat("model '", name, "' already exists (versions ", ListVersions(*existing),
                       ") with other bytes; set new_version to add these as its next version"));
    }
  }
  // The blob is in place before any row names it; if the row then fails to commit, the next
  // start removes the unreferenced blob.
  OCTET_RETURN_IF_ERROR(blob.Commit());
  Database& db = storage_->db();
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Database::Transaction> transaction, db.Begin());
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  int64_t number = 1;
  if (existing.ok()) {
    OCTET_ASSIGN_OR_RETURN(Statement next,
                           db.Prepare("UPDATE models SET next_version = next_version + 1 "
                                      "WHERE name = ?1 RETURNING next_version - 1"));
    next.Bind(1, name);
    OCTET_ASSIGN_OR_RETURN(bool row, next.Step());
    if (!row) return absl::InternalError("the model row vanished");
    number = next.ColumnInt64(0);
    OCTET_RETURN_IF_ERROR(next.Run());
  } else {
    OCTET_ASSIGN_OR_RETURN(Statement insert,
                           db.Prepare("INSERT INTO models(name, default_version, next_version, "
                                      "create_time_ms) VALUES (?1, 1, 2, ?2)"));
    OCTET_RETURN_IF_ERROR(insert.Bind(1, name).Bind(2, now_ms).Run());
  }
  ModelVersion metadata = version;
  metadata.clear_sha256();
  metadata.clear_size_bytes();
  metadata.clear_version();
  metadata.clear_create_time();
  metadata.clear_is_default();
  OCTET_ASSIGN_OR_RETURN(
      Statement insert,
      db.Prepare("INSERT INTO model_versions(name, version, sha256, size_bytes, precision, "
                 "create_time_ms, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  OCTET_RETURN_IF_ERROR(insert.Bind(1, name)
                            .Bind(2, number)
                            .Bind(3, sha256)
                            .Bind(4, blob.size())
                            .Bind(5, static_cast<int64_t>(version.precision()))
                            .Bind(6, now_ms)
                            .BindBlob(7, metadata.SerializeAsString())
                            .Run());
  if (in_transaction != nullptr) OCTET_RETURN_IF_ERROR(in_transaction(db, number));
  OCTET_RETURN_IF_ERROR(transaction->Commit());
  OCTET_ASSIGN_OR_RETURN(Model model, GetModelLocked(name));
  for (const ModelVersion& v : model.versions()) {
    if (v.version() == number) return AddedVersion{v, true};
  }
  return absl::InternalError("the new version vanished");
}

absl::StatusOr<ModelVersion> ModelStore::GetVersionLocked(const std::string& name,
                                                          int64_t version) {
  OCTET_ASSIGN_OR_RETURN(Model model, GetModelLocked(name));
  const int64_t wanted = version == 0 ? model.default_version() : version;
  for (const ModelVersion& v : model.versions()) {
    if (v.version() == wanted) return v;
  }
  return absl::NotFoundError(absl::StrCat("model '", name, "' has no version ", wanted,
                                          " (versions: ", ListVersions(model), ")"));
}

absl::StatusOr<Model> ModelStore::GetModel(const std::string& name) {
  absl::MutexLock lock(&storage_->mu());
  return GetModelLocked(name);
}

absl::StatusOr<ModelVersion> ModelStore::GetVersion(const std::string& name, int64_t version) {
  absl::MutexLock lock(&storage_->mu());
  return GetVersionLocked(name, version);
}

absl::StatusOr<ModelStore::Page> ModelStore::ListModels(int page_size,
                                                        const std::string& page_token) {
  absl::MutexLock lock(&storage_->mu());
  OCTET_ASSIGN_OR_RETURN(
      Statement rows,
      storage_->db().Prepare("SELECT name FROM models WHERE name > ?1 ORDER BY name LIMIT ?2"));
  rows.Bind(1, page_token).Bind(2, static_cast<int64_t>(page_size) + 1);
  std::vector<std::string> names;
  while (true) {
    OCTET_ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    names.push_back(rows.ColumnText(0));
  }
  Page page;
  if (names.size() > static_cast<size_t>(page_size)) {
    names.pop_back();
    page.next_page_token = names.back();
  }
  for (const std::string& name : names) {
    OCTET_ASSIGN_OR_RETURN(Model model, GetModelLocked(name));
    page.models.push_back(std::move(model));
  }
  return page;
}

absl::StatusOr<std::vector<int64_t>> ModelStore::Delete(const std::string& name, int64_t version) {
  absl::MutexLock lock(&storage_->mu());
  OCTET_ASSIGN_OR_RETURN(Model model, GetModelLocked(name));
  std::vector<const ModelVersion*> doomed;
  for (const ModelVersion& v : model.versions()) {
    if (version == 0 || v.version() == version) doomed.push_back(&v);
  }
  if (doomed.empty()) {
    return absl::NotFoundError(absl::StrCat("model '", name, "' has no version ", version,
                                            " (versions: ", ListVersions(model), ")"));
  }
  const bool whole_name = doomed.size() == static_cast<size_t>(model.versions_size());
  if (!whole_name && version == model.default_version()) {
    return absl::FailedPreconditionError(
        absl::StrCat("version ", version, " is the default of model '", name,
                     "'; set another default version first, or delete the whole model"));
  }
  Database& db = storage_->db();
  // Jobs that still need a doomed version, and the artifact blobs stored beside the versions.
  std::vector<std::string> users;
  std::vector<std::string> artifact_blobs;
  for (const ModelVersion* v : doomed) {
    OCTET_ASSIGN_OR_RETURN(Statement jobs,
                           db.Prepare("SELECT id FROM jobs WHERE model = ?1 AND model_version = ?2 "
                                      "AND state IN (?3, ?4) ORDER BY seq"));
    jobs.Bind(1, name)
        .Bind(2, v->version())
        .Bind(3, static_cast<int64_t>(octet::v1::JOB_STATE_QUEUED))
        .Bind(4, static_cast<int64_t>(octet::v1::JOB_STATE_RUNNING));
    while (true) {
      OCTET_ASSIGN_OR_RETURN(bool row, jobs.Step());
      if (!row) break;
      users.push_back(absl::StrCat(jobs.ColumnText(0), " (version ", v->version(), ")"));
    }
    OCTET_ASSIGN_OR_RETURN(
        Statement artifacts,
        db.Prepare("SELECT report_sha256, manifest_sha256 FROM artifacts WHERE model = ?1 AND "
                   "version = ?2"));
    artifacts.Bind(1, name).Bind(2, v->version());
    OCTET_ASSIGN_OR_RETURN(bool row, artifacts.Step());
    if (row) {
      artifact_blobs.push_back(artifacts.ColumnText(0));
      artifact_blobs.push_back(artifacts.ColumnText(1));
    }
  }
  if (!users.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model '", name, "' is being quantized by unfinished job", users.size() == 1 ? " " : "s ",
        absl::StrJoin(users, ", "), "; cancel or wait for them first"));
  }
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Database::Transaction> transaction, db.Begin());
  if (whole_name) {
    OCTET_ASSIGN_OR_RETURN(Statement del, db.Prepare("DELETE FROM models WHERE name = ?1"));
    OCTET_RETURN_IF_ERROR(del.Bind(1, name).Run());
  } else {
    OCTET_ASSIGN_OR_RETURN(
        Statement del, db.Prepare("DELETE FROM model_versions WHERE name = ?1 AND version = ?2"));
    OCTET_RETURN_IF_ERROR(del.Bind(1, name).Bind(2, version).Run());
  }
  OCTET_RETURN_IF_ERROR(transaction->Commit());
  std::vector<int64_t> deleted;
  for (const ModelVersion* v : doomed) {
    deleted.push_back(v->version());
    // Blobs shared with other versions or names stay.
    OCTET_RETURN_IF_ERROR(storage_->RemoveBlobIfUnreferenced(v->sha256()));
  }
  for (const std::string& sha256 : artifact_blobs) {
    OCTET_RETURN_IF_ERROR(storage_->RemoveBlobIfUnreferenced(sha256));
  }
  return deleted;
}

absl::StatusOr<Model> ModelStore::SetDefaultVersion(const std::string& name, int64_t version) {
  absl::MutexLock lock(&storage_->mu());
  OCTET_ASSIGN_OR_RETURN(Model model, GetModelLocked(name));
  bool exists = false;
  for (const ModelVersion& v : model.versions()) exists = exists || v.version() == version;
  if (!exists) {
    return absl::NotFoundError(absl::StrCat("model '", name, "' has no version ", version,
                                            " (versions: ", ListVersions(model), ")"));
  }
  OCTET_RETURN_IF_ERROR(SetDefaultVersionIn(storage_->db(), name, version));
  return GetModelLocked(name);
}

absl::Status ModelStore::SetDefaultVersionIn(Database& db, const std::string& name,
                                             int64_t version) {
  OCTET_ASSIGN_OR_RETURN(Statement update,
                         db.Prepare("UPDATE models SET default_version = ?2 WHERE name = ?1"));
  return update.Bind(1, name).Bind(2, version).Run();
}

absl::StatusOr<Model> ModelStore::SetServingConfig(const std::string& name,
                                                  const octet::v1::ServingConfig& config) {
  absl::MutexLock lock(&storage_->mu());
  OCTET_RETURN_IF_ERROR(GetModelLocked(name).status());
  OCTET_ASSIGN_OR_RETURN(
      Statement upsert,
      storage_->db().Prepare("INSERT INTO model_serving (name, config) VALUES (?1, ?2) "
                             "ON CONFLICT(name) DO UPDATE SET config = excluded.config"));
  OCTET_RETURN_IF_ERROR(upsert.Bind(1, name).BindBlob(2, config.SerializeAsString()).Run());
  return GetModelLocked(name);
}

}  // namespace octet::server
