#include "server/store/dataset_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "engine/base/status_macros.h"
#include "octet/v1/quantization_service.pb.h"
#include "server/store/model_store.h"

namespace octet::server {
namespace {

using octet::v1::Dataset;

absl::StatusOr<Dataset> ReadRow(const Statement& row) {
  Dataset dataset;
  if (!dataset.ParseFromString(row.ColumnBlob(3))) {
    return absl::DataLossError(
        absl::StrCat("the metadata of dataset '", row.ColumnText(0), "' is corrupt"));
  }
  dataset.set_name(row.ColumnText(0));
  dataset.set_sha256(row.ColumnText(1));
  const int64_t ms = row.ColumnInt64(2);
  dataset.mutable_create_time()->set_seconds(ms / 1000);
  dataset.mutable_create_time()->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
  return dataset;
}

constexpr absl::string_view kSelect =
    "SELECT name, sha256, create_time_ms, metadata FROM datasets ";

}  // namespace

absl::StatusOr<Dataset> DatasetStore::Add(BlobStore::Writer& blob, const Dataset& dataset) {
  OCTET_RETURN_IF_ERROR(ValidateName(dataset.name(), "header.name"));
  OCTET_ASSIGN_OR_RETURN(std::string sha256, blob.Finish());
  absl::MutexLock lock(&storage_->mu());
  Database& db = storage_->db();
  {
    OCTET_ASSIGN_OR_RETURN(Statement existing,
                           db.Prepare(absl::StrCat(kSelect, "WHERE name = ?1")));
    existing.Bind(1, dataset.name());
    OCTET_ASSIGN_OR_RETURN(bool found, existing.Step());
    if (found) {
      OCTET_ASSIGN_OR_RETURN(Dataset stored, ReadRow(existing));
      if (stored.sha256() == sha256) return stored;
      return absl::AlreadyExistsError(
          absl::StrCat("dataset '", dataset.name(),
                       "' already exists with other bytes; delete it first or "
                       "choose another name"));
    }
  }
  OCTET_RETURN_IF_ERROR(blob.Commit());
  Dataset metadata = dataset;
  metadata.set_size_bytes(blob.size());
  metadata.clear_name();
  metadata.clear_sha256();
  metadata.clear_create_time();
  OCTET_ASSIGN_OR_RETURN(Statement insert,
                         db.Prepare("INSERT INTO datasets(name, sha256, create_time_ms, metadata) "
                                    "VALUES (?1, ?2, ?3, ?4)"));
  OCTET_RETURN_IF_ERROR(insert.Bind(1, dataset.name())
                            .Bind(2, sha256)
                            .Bind(3, absl::ToUnixMillis(absl::Now()))
                            .BindBlob(4, metadata.SerializeAsString())
                            .Run());
  OCTET_ASSIGN_OR_RETURN(Statement row, db.Prepare(absl::StrCat(kSelect, "WHERE name = ?1")));
  row.Bind(1, dataset.name());
  OCTET_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return absl::InternalError("the new dataset row vanished");
  return ReadRow(row);
}

absl::StatusOr<Dataset> DatasetStore::Get(const std::string& name) {
  absl::MutexLock lock(&storage_->mu());
  OCTET_ASSIGN_OR_RETURN(Statement row,
                         storage_->db().Prepare(absl::StrCat(kSelect, "WHERE name = ?1")));
  row.Bind(1, name);
  OCTET_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("dataset '", name, "' not found"));
  return ReadRow(row);
}

absl::StatusOr<DatasetStore::Page> DatasetStore::List(int page_size,
                                                      const std::string& page_token) {
  absl::MutexLock lock(&storage_->mu());
  OCTET_ASSIGN_OR_RETURN(Statement rows, storage_->db().Prepare(absl::StrCat(
                                             kSelect, "WHERE name > ?1 ORDER BY name LIMIT ?2")));
  rows.Bind(1, page_token).Bind(2, static_cast<int64_t>(page_size) + 1);
  Page page;
  while (true) {
    OCTET_ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    OCTET_ASSIGN_OR_RETURN(Dataset dataset, ReadRow(rows));
    page.datasets.push_back(std::move(dataset));
  }
  if (page.datasets.size() > static_cast<size_t>(page_size)) {
    page.datasets.pop_back();
    page.next_page_token = page.datasets.back().name();
  }
  return page;
}

absl::Status DatasetStore::Delete(const std::string& name) {
  absl::MutexLock lock(&storage_->mu());
  Database& db = storage_->db();
  OCTET_ASSIGN_OR_RETURN(Statement row, db.Prepare("SELECT sha256 FROM datasets WHERE name = ?1"));
  row.Bind(1, name);
  OCTET_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("dataset '", name, "' not found"));
  const std::string sha256 = row.ColumnText(0);
  OCTET_ASSIGN_OR_RETURN(
      Statement users,
      db.Prepare("SELECT id FROM jobs WHERE (calibration_dataset = ?1 OR evaluation_dataset = ?1) "
                 "AND state IN (?2, ?3) ORDER BY seq"));
  users.Bind(1, name)
      .Bind(2, static_cast<int64_t>(octet::v1::JOB_STATE_QUEUED))
      .Bind(3, static_cast<int64_t>(octet::v1::JOB_STATE_RUNNING));
  std::vector<std::string> jobs;
  while (true) {
    OCTET_ASSIGN_OR_RETURN(bool more, users.Step());
    if (!more) break;
    jobs.push_back(users.ColumnText(0));
  }
  if (!jobs.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "dataset '", name, "' is used by unfinished job", jobs.size() == 1 ? " " : "s ",
        absl::StrJoin(jobs, ", "), "; cancel or wait for them first"));
  }
  OCTET_ASSIGN_OR_RETURN(Statement del, db.Prepare("DELETE FROM datasets WHERE name = ?1"));
  OCTET_RETURN_IF_ERROR(del.Bind(1, name).Run());
  return storage_->RemoveBlobIfUnreferenced(sha256);
}

}  // namespace octet::server
