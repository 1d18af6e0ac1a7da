#include "server/store/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet::server {
namespace fs = std::filesystem;
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int error = errno;
  const std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(error));
  if (error == ENOSPC || error == EDQUOT) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

absl::Status FsyncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot fsync", path);
  return absl::OkStatus();
}

std::string RandomSuffix() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrCat(::getpid(), "-", counter.fetch_add(1), "-", rng() % 1000000007);
}

}  // namespace

bool IsSha256Hex(absl::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<BlobStore>> BlobStore::Open(const std::string& root) {
  std::error_code error;
  fs::create_directories(fs::path(root) / "blobs", error);
  if (!error) fs::create_directories(fs::path(root) / "tmp", error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create the blob folders under ", root, ": ", error.message()));
  }
  // Whatever is in tmp/ was never acknowledged.
  for (const fs::directory_entry& entry : fs::directory_iterator(fs::path(root) / "tmp", error)) {
    fs::remove_all(entry.path(), error);
  }
  return std::unique_ptr<BlobStore>(new BlobStore(root));
}

absl::StatusOr<std::unique_ptr<BlobStore::Writer>> BlobStore::NewWriter(int64_t max_bytes) {
  const std::string path = absl::StrCat(root_, "/tmp/upload-", RandomSuffix());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", path);
  return std::unique_ptr<Writer>(new Writer(this, path, fd, max_bytes));
}

std::string BlobStore::PathFor(absl::string_view sha256) const {
  return absl::StrCat(root_, "/blobs/", sha256.substr(0, 2), "/", sha256);
}

bool BlobStore::Contains(absl::string_view sha256) const {
  std::error_code error;
  return IsSha256Hex(sha256) && fs::is_regular_file(PathFor(sha256), error);
}

absl::Status BlobStore::Remove(absl::string_view sha256) {
  if (!IsSha256Hex(sha256)) return absl::InvalidArgumentError("not a sha256");
  std::error_code error;
  if (!fs::remove(PathFor(sha256), error)) {
    if (error)
      return absl::InternalError(
          absl::StrCat("cannot remove blob ", sha256, ": ", error.message()));
    return absl::NotFoundError(absl::StrCat("no blob ", sha256));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> BlobStore::List() const {
  std::vector<std::string> hashes;
  std::error_code error;
  for (const fs::directory_entry& entry :
       fs::recursive_directory_iterator(fs::path(root_) / "blobs", error)) {
    if (entry.is_regular_file() && IsSha256Hex(entry.path().filename().string())) {
      hashes.push_back(entry.path().filename().string());
    }
  }
  if (error) return absl::InternalError(absl::StrCat("cannot list blobs: ", error.message()));
  return hashes;
}

BlobStore::Writer::Writer(BlobStore* store, std::string temp_path, int fd, int64_t max_bytes)
    : store_(store),
      temp_path_(std::move(temp_path)),
      fd_(fd),
      max_bytes_(max_bytes),
      hash_(std::make_unique<Sha256>()) {}

BlobStore::Writer::~Writer() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

absl::Status BlobStore::Writer::Append(absl::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError("the blob is already finished");
  if (static_cast<int64_t>(data.size()) > max_bytes_ - size_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the upload exceeds the limit of ", max_bytes_, " bytes"));
  }
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", temp_path_);
    }
    written += static_cast<size_t>(n);
  }
  hash_->Update(data);
  size_ += static_cast<int64_t>(data.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> BlobStore::Writer::Finish() {
  if (!sha256_.empty()) return sha256_;
  const int rc = ::fsync(fd_);
  ::close(fd_);
  fd_ = -1;
  if (rc != 0) return ErrnoError("cannot fsync", temp_path_);
  sha256_ = hash_->HexDigest();
  return sha256_;
}

absl::Status BlobStore::Writer::Commit() {
  if (sha256_.empty() || fd_ >= 0) return absl::FailedPreconditionError("the blob is not finished");
  if (committed_) return absl::OkStatus();
  const std::string final_path = store_->PathFor(sha256_);
  const std::string folder = fs::path(final_path).parent_path().string();
  std::error_code error;
  fs::create_directories(folder, error);
  if (error)
    return absl::InternalError(absl::StrCat("cannot create ", folder, ": ", error.message()));
  if (fs::exists(final_path, error)) {
    ::unlink(temp_path_.c_str());
  } else {
    if (::rename(temp_path_.c_str(), final_path.c_str()) != 0) {
      return ErrnoError("cannot move the blob into", final_path);
    }
    // The folder holds the new name; its parent may hold a new folder.
    OCTET_RETURN_IF_ERROR(FsyncPath(folder));
    OCTET_RETURN_IF_ERROR(FsyncPath(fs::path(folder).parent_path().string()));
  }
  committed_ = true;
  return absl::OkStatus();
}

absl::StatusOr<bool> BlobStore::Matches(absl::string_view sha256) const {
  const std::string path = PathFor(sha256);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  Sha256 hash;
  std::string buffer(1 << 20, '\0');
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return ErrnoError("cannot read", path);
    }
    if (n == 0) break;
    hash.Update(absl::string_view(buffer.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return hash.HexDigest() == sha256;
}

namespace {

absl::Status Missing(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("the stored file of ", what, " is missing"));
}

absl::Status Altered(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("the stored file of ", what,
                                          " does not match its sha256; it is not served or used"));
}

}  // namespace

absl::Status BlobStore::CheckIntact(absl::string_view sha256, absl::string_view what) const {
  absl::StatusOr<bool> intact = Matches(sha256);
  if (!intact.ok()) return Missing(what);
  return *intact ? absl::OkStatus() : Altered(what);
}

absl::StatusOr<std::string> BlobStore::ReadVerified(absl::string_view sha256,
                                                    absl::string_view what) const {
  absl::StatusOr<std::string> bytes = ReadFile(PathFor(sha256));
  if (!bytes.ok()) return Missing(what);
  if (Sha256Hex(*bytes) != sha256) return Altered(what);
  return bytes;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return bytes;
}

}  // namespace octet::server
