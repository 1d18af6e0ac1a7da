// numpy-style broadcasting for the plain C++ kernels.
#ifndef OCTET_ENGINE_RUNTIME_CPU_BROADCAST_H_
#define OCTET_ENGINE_RUNTIME_CPU_BROADCAST_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor/tensor.h"

namespace octet::cpu {

// The shape numpy broadcasting gives `a` and `b`, or INVALID_ARGUMENT naming both.
absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);

// `shape` with leading 1s up to `rank`. REQUIRES: shape.size() <= rank.
Shape RightAlign(const Shape& shape, size_t rank);

// y[i] = op(a[i'], b[i'']) over `y_shape`, where a and b are right-aligned to y's rank
// (a_shape and b_shape already padded) and each dim is either y's or 1.
template <typename T, typename Op>
void BroadcastBinary(const T* a, const Shape& a_shape, const T* b, const Shape& b_shape, T* y,
                     const Shape& y_shape, Op op) {
  const size_t rank = y_shape.size();
  int64_t total = 1;
  for (int64_t d : y_shape) total *= d;
  if (total == 0) return;
  // Strides of a and b in y's index space: 0 along broadcast dims.
  std::vector<int64_t> a_stride(rank, 0), b_stride(rank, 0);
  int64_t sa = 1, sb = 1;
  for (size_t i = rank; i-- > 0;) {
    a_stride[i] = a_shape[i] == 1 ? 0 : sa;
    b_stride[i] = b_shape[i] == 1 ? 0 : sb;
    sa *= a_shape[i];
    sb *= b_shape[i];
  }
  if (rank == 0) {
    y[0] = op(a[0], b[0]);
    return;
  }
  // Walk y row by row along its last dim, carrying a multi-index over the outer dims.
  const int64_t inner = y_shape[rank - 1];
  const int64_t as = a_stride[rank - 1], bs = b_stride[rank - 1];
  std::vector<int64_t> index(rank, 0);
  int64_t a_offset = 0, b_offset = 0;
  for (int64_t row = 0; row < total / inner; ++row) {
    for (int64_t j = 0; j < inner; ++j) y[j] = op(a[a_offset + j * as], b[b_offset + j * bs]);
    y += inner;
    for (size_t d = rank - 1; d-- > 0;) {
      a_offset += a_stride[d];
      b_offset += b_stride[d];
      if (++index[d] < y_shape[d]) break;
      a_offset -= a_stride[d] * y_shape[d];
      b_offset -= b_stride[d] * y_shape[d];
      index[d] = 0;
    }
  }
}

}  // namespace octet::cpu

#endif  // OCTET_ENGINE_RUNTIME_CPU_BROADCAST_H_
