#include "server/store/job_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet::server {
namespace {

using octet::v1::Job;

constexpr absl::string_view kSelect = "SELECT seq, job FROM jobs ";

absl::StatusOr<Job> ReadRow(const Statement& row) {
  Job job;
  if (!job.ParseFromString(row.ColumnBlob(1))) {
    return absl::DataLossError(absl::StrCat("the row of job ", row.ColumnInt64(0), " is corrupt"));
  }
  return job;
}

std::string Serialized(const Job& job) {
  Job stored = job;
  stored.clear_report_json();
  stored.clear_manifest_json();
  return stored.SerializeAsString();
}

}  // namespace

absl::StatusOr<CreatedJob> JobStore::Create(const Job& job) {
  absl::MutexLock lock(&storage_->mu());
  Database& db = storage_->db();
  if (!job.idempotency_key().empty()) {
    OCTET_ASSIGN_OR_RETURN(Statement existing,
                           db.Prepare(absl::StrCat(kSelect, "WHERE idempotency_key = ?1")));
    existing.Bind(1, job.idempotency_key());
    OCTET_ASSIGN_OR_RETURN(bool found, existing.Step());
    if (found) {
      OCTET_ASSIGN_OR_RETURN(Job first, ReadRow(existing));
      return CreatedJob{std::move(first), false};
    }
  }
  OCTET_ASSIGN_OR_RETURN(
      Statement insert,
      db.Prepare("INSERT INTO jobs(id, seq, model, model_version, state, calibration_dataset, "
                 "evaluation_dataset, idempotency_key, job) VALUES (?1, "
                 "(SELECT IFNULL(MAX(seq), 0) + 1 FROM jobs), ?2, ?3, ?4, ?5, ?6, "
                 "NULLIF(?7, ''), ?8)"));
  OCTET_RETURN_IF_ERROR(insert.Bind(1, job.id())
                            .Bind(2, job.model())
                            .Bind(3, job.model_version())
                            .Bind(4, static_cast<int64_t>(job.state()))
                            .Bind(5, job.calibration_dataset())
                            .Bind(6, job.evaluation_dataset())
                            .Bind(7, job.idempotency_key())
                            .BindBlob(8, Serialized(job))
                            .Run());
  return CreatedJob{job, true};
}

absl::StatusOr<Job> JobStore::Get(const std::string& id) {
  absl::MutexLock lock(&storage_->mu());
  OCTET_ASSIGN_OR_RETURN(Statement row,
                         storage_->db().Prepare(absl::StrCat(kSelect, "WHERE id = ?1")));
  row.Bind(1, id);
  OCTET_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("job '", id, "' not found"));
  return ReadRow(row);
}

absl::StatusOr<Job> JobStore::GetByIdempotencyKey(const std::string& key) {
  absl::MutexLock lock(&storage_->mu());
  OCTET_ASSIGN_OR_RETURN(
      Statement row, storage_->db().Prepare(absl::StrCat(kSelect, "WHERE idempotency_key = ?1")));
  row.Bind(1, key);
  OCTET_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("no job has idempotency key '", key, "'"));
  return ReadRow(row);
}

absl::StatusOr<JobStore::Page> JobStore::List(const std::string& model, octet::v1::JobState state,
                                              int page_size, const std::string& page_token) {
  int64_t before = std::numeric_limits<int64_t>::max();
  if (!page_token.empty() && (!absl::SimpleAtoi(page_token, &before) || before < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token '", page_token, "' is not one ListJobs returned"));
  }
  absl::MutexLock lock(&storage_->mu());
  OCTET_ASSIGN_OR_RETURN(Statement rows, storage_->db().Prepare(absl::StrCat(
                                             kSelect,
                                             "WHERE seq < ?1 AND (?2 = '' OR model = ?2) AND "
                                             "(?3 = 0 OR state = ?3) ORDER BY seq DESC LIMIT ?4")));
  rows.Bind(1, before)
      .Bind(2, model)
      .Bind(3, static_cast<int64_t>(state))
      .Bind(4, static_cast<int64_t>(page_size) + 1);
  Page page;
  int64_t last_seq = 0;
  while (true) {
    OCTET_ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    if (page.jobs.size() == static_cast<size_t>(page_size)) {
      page.next_page_token = absl::StrCat(last_seq);
      break;
    }
    last_seq = rows.ColumnInt64(0);
    OCTET_ASSIGN_OR_RETURN(Job job, ReadRow(rows));
    page.jobs.push_back(std::move(job));
  }
  return page;
}

absl::Status JobStore::UpdateIn(Database& db, const Job& job) {
  OCTET_ASSIGN_OR_RETURN(Statement update,
                         db.Prepare("UPDATE jobs SET state = ?2, job = ?3 WHERE id = ?1"));
  return update.Bind(1, job.id())
      .Bind(2, static_cast<int64_t>(job.state()))
      .BindBlob(3, Serialized(job))
      .Run();
}

absl::Status JobStore::Update(const Job& job) {
  absl::MutexLock lock(&storage_->mu());
  return UpdateIn(storage_->db(), job);
}

absl::Status JobStore::AddArtifactIn(Database& db, const std::string& model, int64_t version,
                                     const std::string& job_id, const std::string& report_sha256,
                                     const std::string& manifest_sha256) {
  OCTET_ASSIGN_OR_RETURN(
      Statement insert,
      db.Prepare("INSERT OR REPLACE INTO artifacts(model, version, job_id, report_sha256, "
                 "manifest_sha256) VALUES (?1, ?2, ?3, ?4, ?5)"));
  return insert.Bind(1, model)
      .Bind(2, version)
      .Bind(3, job_id)
      .Bind(4, report_sha256)
      .Bind(5, manifest_sha256)
      .Run();
}

absl::StatusOr<JobStore::ArtifactBlobs> JobStore::ArtifactOf(const std::string& model,
                                                             int64_t version) {
  absl::MutexLock lock(&storage_->mu());
  OCTET_ASSIGN_OR_RETURN(
      Statement row,
      storage_->db().Prepare("SELECT report_sha256, manifest_sha256 FROM artifacts WHERE "
                             "model = ?1 AND version = ?2"));
  row.Bind(1, model).Bind(2, version);
  OCTET_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return ArtifactBlobs{};
  return ArtifactBlobs{row.ColumnText(0), row.ColumnText(1)};
}

absl::StatusOr<std::vector<Job>> JobStore::InState(octet::v1::JobState state) {
  absl::MutexLock lock(&storage_->mu());
  OCTET_ASSIGN_OR_RETURN(Statement rows, storage_->db().Prepare(absl::StrCat(
                                             kSelect, "WHERE state = ?1 ORDER BY seq")));
  rows.Bind(1, static_cast<int64_t>(state));
  std::vector<Job> jobs;
  while (true) {
    OCTET_ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    OCTET_ASSIGN_OR_RETURN(Job job, ReadRow(rows));
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace octet::server
