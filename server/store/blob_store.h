#ifndef OCTET_SERVER_STORE_BLOB_STORE_H_
#define OCTET_SERVER_STORE_BLOB_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/artifact/sha256.h"

namespace octet::server {

// Content-addressed files under a root folder: blobs/<first two hex digits>/<sha256 hex>.
// A blob is written to tmp/, fsynced, renamed into place and its folder fsynced, so a blob that
// exists is whole. Which blobs are still needed is the caller's business (the database counts
// references); BlobStore only stores, reads and removes.
//
// Thread-safe; writers are independent of each other.
class BlobStore {
 public:
  // Streams one blob to a temporary file while hashing it. Destroying a writer that was not
  // committed removes its temporary file. Not thread-safe.
  class Writer {
   public:
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // RESOURCE_EXHAUSTED once the total would pass the writer's limit.
    absl::Status Append(absl::string_view data);
    int64_t size() const { return size_; }
    // Flushes and fsyncs the temporary file; returns the sha256 (hex). Append may not follow;
    // calling it again returns the same hash.
    absl::StatusOr<std::string> Finish();
    // REQUIRES: Finish() succeeded. Moves the file into place under its hash; if that blob exists
    // already, the temporary file is dropped instead.
    absl::Status Commit();
    // The finished temporary file, readable between Finish() and Commit().
    const std::string& temp_path() const { return temp_path_; }

   private:
    friend class BlobStore;
    Writer(BlobStore* store, std::string temp_path, int fd, int64_t max_bytes);

    BlobStore* store_;
    std::string temp_path_;
    int fd_;
    int64_t max_bytes_;
    int64_t size_ = 0;
    std::unique_ptr<Sha256> hash_;
    std::string sha256_;
    bool committed_ = false;
  };

  // Opens (creating if needed) the store under `root` and removes temporary files a crash left.
  static absl::StatusOr<std::unique_ptr<BlobStore>> Open(const std::string& root);

  absl::StatusOr<std::unique_ptr<Writer>> NewWriter(int64_t max_bytes);

  std::string PathFor(absl::string_view sha256) const;
  bool Contains(absl::string_view sha256) const;
  // NOT_FOUND if absent; removing is idempotent only in that sense.
  absl::Status Remove(absl::string_view sha256);
  // Every stored hash.
  absl::StatusOr<std::vector<std::string>> List() const;
  // Whether the blob's bytes still hash to its name (read in chunks, not held in memory).
  absl::StatusOr<bool> Matches(absl::string_view sha256) const;
  // OK when the blob is there and its bytes, hashed as a stream, still give its name; else
  // DATA_LOSS naming `what` (never served or used).
  absl::Status CheckIntact(absl::string_view sha256, absl::string_view what) const;
  // The blob's bytes, checked against its hash: DATA_LOSS naming `what` ("model 'm' version 2")
  // when the file is missing or its bytes no longer hash to its name (never served or used).
  absl::StatusOr<std::string> ReadVerified(absl::string_view sha256, absl::string_view what) const;

  const std::string& root() const { return root_; }

 private:
  explicit BlobStore(std::string root) : root_(std::move(root)) {}

  const std::string root_;
};

// A whole file's bytes: NOT_FOUND when it cannot be opened, DATA_LOSS when reading fails.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// True for 64 lower-case hex digits.
bool IsSha256Hex(absl::string_view text);

}  // namespace octet::server

#endif  // OCTET_SERVER_STORE_BLOB_STORE_H_
