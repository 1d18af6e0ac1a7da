#include "engine/io/npz.h"

#include <zip.h>

#include <memory>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/io/npy.h"

namespace octet {
namespace {

struct ArchiveCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
using Archive = std::unique_ptr<zip_t, ArchiveCloser>;

struct MemberCloser {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};
using Member = std::unique_ptr<zip_file_t, MemberCloser>;

std::string ZipError(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

}  // namespace

absl::StatusOr<std::vector<NamedTensor>> ReadNpzFile(const std::string& path, int64_t max_bytes) {
  int code = 0;
  Archive archive(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (archive == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a readable .npz (zip) archive: ", ZipError(code)));
  }
  const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  if (count <= 0) return absl::InvalidArgumentError("the .npz archive holds no arrays");
  std::vector<NamedTensor> arrays;
  std::set<std::string> names;
  int64_t total = 0;
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t stat;
    if (zip_stat_index(archive.get(), i, 0, &stat) != 0 || (stat.valid & ZIP_STAT_NAME) == 0 ||
        (stat.valid & ZIP_STAT_SIZE) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(".npz member ", i, " cannot be read: ", zip_strerror(archive.get())));
    }
    const std::string member = stat.name;
    if (!absl::EndsWith(member, ".npy")) {
      return absl::InvalidArgumentError(
          absl::StrCat(".npz member '", member, "' is not a .npy file"));
    }
    std::string name = member.substr(0, member.size() - 4);
    if (!names.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(".npz holds array '", name, "' twice"));
    }
    if (stat.size > static_cast<zip_uint64_t>(max_bytes - total)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          ".npz array '", name, "' would pass the limit of ", max_bytes, " bytes once unpacked"));
    }
    total += static_cast<int64_t>(stat.size);
    Member file(zip_fopen_index(archive.get(), i, 0));
    if (file == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(".npz array '", name, "' cannot be opened: ", zip_strerror(archive.get())));
    }
    std::string bytes(stat.size, '\0');
    zip_uint64_t done = 0;
    while (done < stat.size) {
      const zip_int64_t n = zip_fread(file.get(), bytes.data() + done, stat.size - done);
      if (n <= 0) break;
      done += static_cast<zip_uint64_t>(n);
    }
    if (done != stat.size) {
      return absl::InvalidArgumentError(
          absl::StrCat(".npz array '", name, "' is corrupt: ", zip_file_strerror(file.get())));
    }
    absl::StatusOr<Tensor> tensor = ParseNpy(bytes);
    if (!tensor.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(".npz array '", name, "': ", tensor.status().message()));
    }
    arrays.emplace_back(std::move(name), *std::move(tensor));
  }
  return arrays;
}

absl::Status WriteNpzFile(const std::string& path, const std::vector<NamedTensor>& arrays) {
  int code = 0;
  zip_t* raw = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (raw == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create ", path, ": ", ZipError(code)));
  }
  Archive archive(raw);
  // libzip reads the sources when the archive is closed, so the bytes live until then.
  std::vector<std::string> members;
  members.reserve(arrays.size());
  for (const auto& [name, tensor] : arrays) {
    members.push_back(SerializeNpy(tensor));
    zip_source_t* source =
        zip_source_buffer(archive.get(), members.back().data(), members.back().size(), 0);
    if (source == nullptr) return absl::InternalError(zip_strerror(archive.get()));
    const zip_int64_t index = zip_file_add(archive.get(), absl::StrCat(name, ".npy").c_str(),
                                           source, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
    if (index < 0) {
      zip_source_free(source);
      return absl::InternalError(
          absl::StrCat("cannot add '", name, "' to ", path, ": ", zip_strerror(archive.get())));
    }
    zip_set_file_compression(archive.get(), static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  }
  if (zip_close(archive.get()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot write ", path, ": ", zip_strerror(archive.get())));
  }
  archive.release();
  return absl::OkStatus();
}

}  // namespace octet
