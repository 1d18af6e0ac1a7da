#include "engine/runtime/onednn/winograd_conv.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/onednn/onednn_common.h"

namespace octet::onednn {
namespace {

using cpu::WinogradF2x3;
using dnnl::memory;

constexpr int64_t kPoints = WinogradF2x3::kPoints;

// The matmul of `tiles` rows: [16, tiles, IC] x [16, IC, OC] -> [16, tiles, OC], its weights
// (the transformed filters, `u` in [16][IC][OC] order) in the layout it prefers.
struct Matmul {
  dnnl::matmul primitive;
  memory::desc src, weights, dst;
  Tensor packed_weights;
  std::string implementation;
};

absl::StatusOr<Matmul> MakeMatmul(const cpu::WinogradConvShape& s, int64_t tiles, const Tensor& u,
                                  size_t* scratch) {
  Matmul mm;
  mm.src = memory::desc({kPoints, tiles, s.in_channels}, memory::data_type::f32,
                        memory::format_tag::abc);
  mm.dst = memory::desc({kPoints, tiles, s.out_channels}, memory::data_type::f32,
                        memory::format_tag::abc);
  const memory::desc weights_any({kPoints, s.in_channels, s.out_channels}, memory::data_type::f32,
                                 memory::format_tag::any);
  const dnnl::matmul::desc desc(mm.src, weights_any, mm.dst);
  const dnnl::matmul::primitive_desc pd(desc, DefaultAttr(), CpuEngine());
  mm.weights = pd.weights_desc();
  OCTET_ASSIGN_OR_RETURN(mm.packed_weights,
                         ReorderConstant(u, PlainDesc(u.shape(), DataType::kFloat32), mm.weights));
  mm.primitive = dnnl::matmul(pd);
  mm.implementation = pd.impl_info_str();
  *scratch = std::max(*scratch, pd.scratchpad_desc().get_size());
  return mm;
}

// Passes of `chunk` tiles: input transform into V, V x U through the matmul (`full`, and `tail`
// for the last pass), output transform from M.
class WinogradMatmulConvKernel final : public Kernel {
 public:
  WinogradMatmulConvKernel(WinogradF2x3 winograd, int64_t chunk, Matmul full,
                           std::optional<Matmul> tail, size_t matmul_scratch)
      : winograd_(std::move(winograd)),
        chunk_(chunk),
        full_(std::move(full)),
        tail_(std::move(tail)),
        implementation_(
            absl::StrCat("winograd F(2x2,3x3):avx2 (matmul ", full_.implementation, ")")) {
    const cpu::WinogradConvShape& s = winograd_.shape();
    v_offset_ = AlignScratchpad(matmul_scratch);
    m_offset_ = AlignScratchpad(v_offset_ + kPoints * chunk_ * s.in_channels * sizeof(float));
    total_ = m_offset_ + kPoints * chunk_ * s.out_channels * sizeof(float);
  }

  size_t scratchpad_bytes() const override { return total_; }
  std::string implementation() const override { return implementation_; }

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    const float* x = inputs[0]->data<float>();
    float* y = outputs[0]->data<float>();
    const int sum = winograd_.epilogue().sum_input;
    if (sum >= 0 && inputs[sum]->raw_data() != outputs[0]->raw_data()) {
      std::memcpy(y, inputs[sum]->raw_data(), outputs[0]->byte_size());
    }
    char* scratch = static_cast<char*>(context.scratchpad);
    auto* v = reinterpret_cast<float*>(scratch + v_offset_);
    auto* m = reinterpret_cast<float*>(scratch + m_offset_);
    const int64_t tiles = winograd_.tiles();
    const memory::desc scratch_desc =
        PlainDesc(Shape{static_cast<int64_t>(std::max<size_t>(v_offset_, 1))}, DataType::kUint8);
    try {
      for (int64_t first = 0; first < tiles; first += chunk_) {
        const int64_t count = std::min(chunk_, tiles - first);
        winograd_.TransformInput(x, first, count, v);
        const Matmul& mm = count == chunk_ ? full_ : *tail_;
        mm.primitive.execute(ThreadStream(),
                             {{DNNL_ARG_SRC, memory(mm.src, CpuEngine(), v)},
                              {DNNL_ARG_WEIGHTS, Wrap(mm.weights, mm.packed_weights)},
                              {DNNL_ARG_DST, memory(mm.dst, CpuEngine(), m)},
                              {DNNL_ARG_SCRATCHPAD, memory(scratch_desc, CpuEngine(), scratch)}});
        winograd_.TransformOutput(m, first, count, y);
      }
    } catch (const dnnl::error& e) {
      return ToStatus(e, "Winograd convolution");
    }
    return absl::OkStatus();
  }

 private:
  WinogradF2x3 winograd_;
  int64_t chunk_;  // tiles per pass through the matmul
  Matmul full_;
  std::optional<Matmul> tail_;
  std::string implementation_;
  size_t v_offset_ = 0, m_offset_ = 0, total_ = 0;
};

}  // namespace

absl::StatusOr<BuiltKernel> BuildWinogradMatmulConv(const KernelBuildContext& context,
                                                    const cpu::WinogradConvShape& shape,
                                                    int sum_input) {
  OCTET_ASSIGN_OR_RETURN(const Tensor u, WinogradF2x3::TransformFilters(*context.constant(1)));
  const int64_t ic = shape.in_channels, oc = shape.out_channels;
  WinogradF2x3 winograd(shape, cpu::WinogradEpilogueOf(context, oc, sum_input));
  // Tiles per pass: the transformed input and output of a pass within about 2 MiB (the caches
  // of a core), but at least as many as make them as large as the transformed weights, which
  // each pass reads whole (ic * oc / (ic + oc) tiles).
  const int64_t tiles = winograd.tiles();
  const int64_t budget =
      (int64_t{2} << 20) / (kPoints * static_cast<int64_t>(sizeof(float)) * (ic + oc));
  const int64_t chunk =
      std::min(tiles, std::max<int64_t>({16, budget / 8 * 8, ic * oc / (ic + oc) / 8 * 8}));
  try {
    size_t scratch = 0;
    OCTET_ASSIGN_OR_RETURN(Matmul full, MakeMatmul(shape, chunk, u, &scratch));
    std::optional<Matmul> tail;
    if (tiles % chunk != 0) {
      OCTET_ASSIGN_OR_RETURN(tail, MakeMatmul(shape, tiles % chunk, u, &scratch));
    }
    BuiltKernel built;
    built.kernel = std::make_unique<WinogradMatmulConvKernel>(
        std::move(winograd), chunk, std::move(full), std::move(tail), scratch);
    built.outputs.push_back({DataType::kFloat32,
                             {shape.batch, oc, shape.out_h, shape.out_w},
                             static_cast<int>(WinogradF2x3::kBlock)});
    built.notes = absl::StrCat(chunk, " tiles per pass",
                               sum_input >= 0 ? ", residual Add fused (in place)" : "");
    return built;
  } catch (const dnnl::error& e) {
    return ToStatus(e, context.node.Describe());
  }
}

}  // namespace octet::onednn
