// The numpy .npy format (versions 1.0, 2.0 and 3.0): little-endian, C order, for the element types
// the engine holds. Anything else (Fortran order, big-endian, object or structured dtypes) is
// refused with INVALID_ARGUMENT naming the problem.
#ifndef OCTET_ENGINE_IO_NPY_H_
#define OCTET_ENGINE_IO_NPY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/tensor/tensor.h"

namespace octet {

// Parses a whole .npy file held in memory. The data must be exactly as long as the header says.
absl::StatusOr<Tensor> ParseNpy(absl::string_view bytes);

// Serialises `tensor` as a version 1.0 .npy file (2.0 when the header would not fit).
std::string SerializeNpy(const Tensor& tensor);

absl::StatusOr<Tensor> ReadNpyFile(const std::string& path);
absl::Status WriteNpyFile(const std::string& path, const Tensor& tensor);

}  // namespace octet

#endif  // OCTET_ENGINE_IO_NPY_H_
