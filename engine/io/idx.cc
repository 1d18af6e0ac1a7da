#include "engine/io/idx.h"

#include <zlib.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace octet {

absl::StatusOr<Tensor> ReadIdxFile(const std::string& path, int64_t max_items) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string bytes;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof(buffer))) > 0) bytes.append(buffer, n);
  const bool failed = n < 0;
  gzclose(file);
  if (failed) return absl::InvalidArgumentError(absl::StrCat(path, ": gzip data is corrupt"));
  auto byte = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
  if (bytes.size() < 4 || byte(0) != 0 || byte(1) != 0 || byte(2) != 0x08) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an IDX file of unsigned bytes"));
  }
  const int rank = byte(3);
  if (rank < 1 || bytes.size() < 4 + 4 * static_cast<size_t>(rank)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated IDX header"));
  }
  Shape shape;
  for (int d = 0; d < rank; ++d) {
    const size_t at = 4 + 4 * d;
    shape.push_back((int64_t{byte(at)} << 24) | (byte(at + 1) << 16) | (byte(at + 2) << 8) |
                    byte(at + 3));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  absl::StatusOr<int64_t> count = CheckedElementCount(shape);
  if (!count.ok() || static_cast<size_t>(*count) != bytes.size() - header) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the data does not match the dims ", ShapeToString(shape)));
  }
  if (max_items >= 0) shape[0] = std::min(shape[0], max_items);
  int64_t kept = 1;
  for (int64_t d : shape) kept *= d;
  return Tensor::FromBytes(DataType::kUint8, shape, bytes.data() + header, kept);
}

}  // namespace octet
