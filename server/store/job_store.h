#ifndef OCTET_SERVER_STORE_JOB_STORE_H_
#define OCTET_SERVER_STORE_JOB_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "octet/v1/quantization_service.pb.h"
#include "server/store/storage.h"

namespace octet::server {

struct CreatedJob {
  octet::v1::Job job;
  // False when the idempotency key named an existing job, which is returned instead.
  bool created;
};

// Quantization jobs as rows: identity, state and the job message. Thread-safe.
class JobStore {
 public:
  explicit JobStore(Storage* storage) : storage_(storage) {}

  // Inserts `job` (id, model, model_version, datasets, state set by the caller). With a non-empty
  // idempotency key already used, returns that job instead.
  absl::StatusOr<CreatedJob> Create(const octet::v1::Job& job);

  absl::StatusOr<octet::v1::Job> Get(const std::string& id);
  // NOT_FOUND when no job has `key`.
  absl::StatusOr<octet::v1::Job> GetByIdempotencyKey(const std::string& key);

  struct Page {
    std::vector<octet::v1::Job> jobs;
    std::string next_page_token;
  };
  // Jobs newest first, optionally only of `model` and/or in `state`; `page_token` is what the
  // previous page returned.
  absl::StatusOr<Page> List(const std::string& model, octet::v1::JobState state, int page_size,
                            const std::string& page_token);

  // Writes the job's state and message.
  absl::Status Update(const octet::v1::Job& job);
  // The same, inside a transaction the caller holds (ModelStore::TransactionStep).
  static absl::Status UpdateIn(Database& db, const octet::v1::Job& job);
  // Records the report and manifest blobs a job stored beside the version it created.
  static absl::Status AddArtifactIn(Database& db, const std::string& model, int64_t version,
                                    const std::string& job_id, const std::string& report_sha256,
                                    const std::string& manifest_sha256);
  // The report and manifest blobs stored beside a version a job created; empty strings when
  // there are none (the version was deleted since).
  struct ArtifactBlobs {
    std::string report_sha256;
    std::string manifest_sha256;
  };
  absl::StatusOr<ArtifactBlobs> ArtifactOf(const std::string& model, int64_t version);

  // Every job in `state`, oldest first.
  absl::StatusOr<std::vector<octet::v1::Job>> InState(octet::v1::JobState state);

 private:
  Storage* const storage_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_STORE_JOB_STORE_H_
