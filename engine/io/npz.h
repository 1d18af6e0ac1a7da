// numpy's .npz archives (numpy.savez and numpy.savez_compressed): a zip file of .npy members, read
// and written with libzip. Member "x.npy" holds the array named "x".
#ifndef OCTET_ENGINE_IO_NPZ_H_
#define OCTET_ENGINE_IO_NPZ_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor/tensor.h"

namespace octet {

// Reads every array of the archive at `path`, in archive order. INVALID_ARGUMENT for a file that is
// not a zip archive, a member that is not a .npy file (named), a duplicate name or a corrupt
// member; RESOURCE_EXHAUSTED when the arrays would take more than `max_bytes` once unpacked (a
// compressed archive cannot make the reader allocate more than that).
absl::StatusOr<std::vector<NamedTensor>> ReadNpzFile(const std::string& path, int64_t max_bytes);

// Writes `arrays` as an uncompressed archive (what numpy.savez writes), replacing `path`.
absl::Status WriteNpzFile(const std::string& path, const std::vector<NamedTensor>& arrays);

}  // namespace octet

#endif  // OCTET_ENGINE_IO_NPZ_H_
