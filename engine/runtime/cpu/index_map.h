// Data movement where each output coordinate maps, dimension by dimension, to an input
// coordinate or to a fill value: Transpose, Slice and Pad are all this.
#ifndef OCTET_ENGINE_RUNTIME_CPU_INDEX_MAP_H_
#define OCTET_ENGINE_RUNTIME_CPU_INDEX_MAP_H_

#include <cstdint>
#include <cstring>
#include <vector>

namespace octet::cpu {

struct DimensionMap {
  // For each output coordinate along this dimension, the input coordinate, or -1 for fill.
  std::vector<int64_t> source;
  // Elements between consecutive input coordinates of the dimension it reads.
  int64_t input_stride;
};

// out[o_0, ..., o_n] = in[sum_d source_d[o_d] * stride_d], or `fill` where any source is -1.
// `element_size` is 1, 2, 4 or 8 bytes; `fill` points to one element.
void IndexMapCopy(const void* in, void* out, const std::vector<DimensionMap>& dims,
                  size_t element_size, const void* fill);

}  // namespace octet::cpu

#endif  // OCTET_ENGINE_RUNTIME_CPU_INDEX_MAP_H_
