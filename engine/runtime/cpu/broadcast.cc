#include "engine/runtime/cpu/broadcast.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace octet::cpu {

absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  const Shape fa = RightAlign(a, rank), fb = RightAlign(b, rank);
  Shape y(rank);
  for (size_t i = 0; i < rank; ++i) {
    if (fa[i] == fb[i] || fb[i] == 1) {
      y[i] = fa[i];
    } else if (fa[i] == 1) {
      y[i] = fb[i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("shapes ", ShapeToString(a), " and ",
                                                     ShapeToString(b), " do not broadcast"));
    }
  }
  return y;
}

Shape RightAlign(const Shape& shape, size_t rank) {
  Shape out(rank - shape.size(), 1);
  out.insert(out.end(), shape.begin(), shape.end());
  return out;
}

}  // namespace octet::cpu
