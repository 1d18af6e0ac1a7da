// Reading of IDX files (the MNIST family's format: big-endian magic, dims, then raw data),
// optionally gzip-compressed, as Debian's dataset-fashion-mnist ships them.
#ifndef OCTET_ENGINE_IO_IDX_H_
#define OCTET_ENGINE_IO_IDX_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/tensor/tensor.h"

namespace octet {

// The uint8 tensor an IDX file holds (gzip or plain), at most `max_items` items along the first
// dimension (-1: all). INVALID_ARGUMENT for a file that is not IDX of unsigned bytes or is
// truncated; NOT_FOUND when it cannot be opened.
absl::StatusOr<Tensor> ReadIdxFile(const std::string& path, int64_t max_items = -1);

}  // namespace octet

#endif  // OCTET_ENGINE_IO_IDX_H_
