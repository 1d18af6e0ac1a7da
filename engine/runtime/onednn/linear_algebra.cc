#include "engine/runtime/linear_algebra.h"

#include "oneapi/dnnl/dnnl.h"

namespace octet {

absl::Status GramMatrix(const float* a, int64_t rows, int64_t cols, float* gram) {
  // Row-major a^T a: dnnl_sgemm takes row-major operands.
  if (dnnl_sgemm('T', 'N', cols, cols, rows, 1.0f, a, cols, a, cols, 0.0f, gram, cols) !=
      dnnl_success) {
    return absl::InternalError("oneDNN sgemm failed computing a Gram matrix");
  }
  return absl::OkStatus();
}

}  // namespace octet
