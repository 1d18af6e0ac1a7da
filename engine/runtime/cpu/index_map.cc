#include "engine/runtime/cpu/index_map.h"

namespace octet::cpu {
namespace {

template <typename Element>
struct Copier {
  const std::vector<DimensionMap>& dims;
  const Element* in;
  Element* out;
  Element fill;
  // Elements of the output below each dimension.
  std::vector<int64_t> block;

  void FillBlock(size_t d) {
    for (int64_t i = 0; i < block[d]; ++i) *out++ = fill;
  }

  void Copy(size_t d, int64_t base) {
    const DimensionMap& map = dims[d];
    if (d + 1 == dims.size()) {
      for (int64_t s : map.source) *out++ = s < 0 ? fill : in[base + s * map.input_stride];
      return;
    }
    for (int64_t s : map.source) {
      if (s < 0) {
        FillBlock(d + 1);
      } else {
        Copy(d + 1, base + s * map.input_stride);
      }
    }
  }
};

template <typename Element>
void Run(const void* in, void* out, const std::vector<DimensionMap>& dims, const void* fill) {
  Copier<Element> copier{dims, static_cast<const Element*>(in), static_cast<Element*>(out), {}, {}};
  std::memcpy(&copier.fill, fill, sizeof(Element));
  if (dims.empty()) {
    *copier.out = *copier.in;
    return;
  }
  copier.block.assign(dims.size() + 1, 1);
  for (size_t d = dims.size(); d-- > 0;) {
    copier.block[d] = copier.block[d + 1] * static_cast<int64_t>(dims[d].source.size());
  }
  if (copier.block[0] == 0) return;
  copier.Copy(0, 0);
}

}  // namespace

void IndexMapCopy(const void* in, void* out, const std::vector<DimensionMap>& dims,
                  size_t element_size, const void* fill) {
  switch (element_size) {
    case 1: Run<uint8_t>(in, out, dims, fill); break;
    case 2: Run<uint16_t>(in, out, dims, fill); break;
    case 4: Run<uint32_t>(in, out, dims, fill); break;
    default: Run<uint64_t>(in, out, dims, fill); break;
  }
}

}  // namespace octet::cpu
