// Dense linear algebra for the engine's numerical code outside the kernels (GPTQ's input
// statistics), computed by the runtime's backend (oneDNN's sgemm) so that no code outside
// engine/runtime/onednn needs oneDNN.
#ifndef OCTET_ENGINE_RUNTIME_LINEAR_ALGEBRA_H_
#define OCTET_ENGINE_RUNTIME_LINEAR_ALGEBRA_H_

#include <cstdint>

#include "absl/status/status.h"

namespace octet {

// gram[cols x cols] = a^T a for the row-major matrix a[rows x cols]; gram is row-major and is
// overwritten. Runs on the calling thread's OpenMP team. INTERNAL when the backend fails.
absl::Status GramMatrix(const float* a, int64_t rows, int64_t cols, float* gram);

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_LINEAR_ALGEBRA_H_
