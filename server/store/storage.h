#ifndef OCTET_SERVER_STORE_STORAGE_H_
#define OCTET_SERVER_STORE_STORAGE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/store/blob_store.h"
#include "server/store/database.h"

namespace octet::server {

// The data directory: octet.db (SQLite, WAL) and the blob store beside it, with the one mutex
// that serialises every use of the database connection. The stores for models, datasets and jobs
// are views onto one Storage.
//
// On open it removes blobs no row refers to (a crash between writing a blob and committing its row,
// or between deleting a row and its blob) and temporary files, and checks every other blob against
// its hash: the ones that no longer match are listed in corrupt_blobs() (and are never served or
// used: readers check the hash again).
class Storage {
 public:
  static absl::StatusOr<std::unique_ptr<Storage>> Open(const std::string& data_dir);

  absl::Mutex& mu() ABSL_LOCK_RETURNED(mu_) { return mu_; }
  Database& db() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return *db_; }
  BlobStore& blobs() { return *blobs_; }
  // Blobs found not matching their hash when the storage was opened.
  const std::vector<std::string>& corrupt_blobs() const { return corrupt_blobs_; }

  // What names the blob: "model 'm' version 2", "dataset 'd'", "the report of model 'm' version
  // 3", joined with ", ".
  absl::StatusOr<std::string> DescribeReferences(const std::string& sha256)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Removes the blob unless a row still refers to it. REQUIRES: mu() held, after the rows that
  // dropped their reference committed.
  absl::Status RemoveBlobIfUnreferenced(const std::string& sha256)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

 private:
  Storage(std::unique_ptr<Database> db, std::unique_ptr<BlobStore> blobs)
      : db_(std::move(db)), blobs_(std::move(blobs)) {}

  absl::StatusOr<bool> IsReferenced(const std::string& sha256) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<Database> db_ ABSL_PT_GUARDED_BY(mu_);
  std::unique_ptr<BlobStore> blobs_;
  std::vector<std::string> corrupt_blobs_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_STORE_STORAGE_H_
