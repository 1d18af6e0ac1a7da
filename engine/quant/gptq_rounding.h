// Weight rounding that minimises the error of a layer's output rather than of each weight: GPTQ
// (Frantar et al. 2022, the greedy step of Optimal Brain Quantization). A layer computes y = w . x
// per output channel; with H = sum x x^T over calibration inputs, the output's squared error is
// (w - q)^T H (w - q). The weights of a channel are rounded one input coordinate at a time, on the
// grid nearest rounding would use (same scales and zero points), and each rounding error is
// compensated on the coordinates not yet rounded, in proportion to how their inputs correlate
// (through the Cholesky factor of H^-1). Coordinates go in decreasing order of their input's
// energy (GPTQ's "act order"). Where nearest rounding leaves the output error at e, this leaves
// it lower; at 4 bits much lower.
#ifndef OCTET_ENGINE_QUANT_GPTQ_ROUNDING_H_
#define OCTET_ENGINE_QUANT_GPTQ_ROUNDING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/ir/graph.h"
#include "engine/quant/weight_quantizer.h"
#include "engine/tensor/tensor.h"

namespace octet {

// The Gram matrix H = sum x x^T of the vectors one layer's weights are dotted with, accumulated
// over batches of the layer's (float) input: for a Conv, the im2col patches of each group
// (zero outside the input, as the convolution pads); for a Gemm or MatMul, the rows of its input.
class LayerInputGram {
 public:
  // For `node`, whose constant weights are input `weight_input` with output channels along
  // `channel_axis`: a Conv over rank-3 or rank-4 inputs (any group, stride, dilation, padding,
  // auto_pad), a Gemm with transA = 0 and weights B, a MatMul with 2-D weights as input 1.
  // UNIMPLEMENTED for anything else (those weights are rounded to nearest).
  static absl::StatusOr<LayerInputGram> For(const Node& node, int weight_input,
                                            int64_t channel_axis, const Shape& weights);

  // Adds the input vectors of `input` (the node's input 0, float32), at most `max_rows` of them
  // chosen pseudo-randomly from `seed` (all when there are fewer).
  absl::Status Add(const Tensor& input, int64_t max_rows, uint64_t seed);

  // A gram of nothing, to release one's memory by assignment.
  static LayerInputGram Empty() { return LayerInputGram(); }

  int64_t groups() const { return groups_; }
  // The memory the statistics take once the first batch is added.
  int64_t bytes() const { return groups_ * size_ * size_ * static_cast<int64_t>(sizeof(double)); }
  // The length of the vectors, per group.
  int64_t size() const { return size_; }
  int64_t rows() const { return rows_; }
  // H of group g, size() x size(), row-major. REQUIRES: rows() > 0.
  const double* gram(int64_t g) const { return gram_.data() + g * size_ * size_; }

 private:
  LayerInputGram() = default;

  // Per spatial dim (height 1 for a 1-D conv): the input's extent, the padding before it, the
  // output's extent.
  struct Geometry {
    int64_t extent[2], pad_begin[2], out[2];
  };
  Geometry GeometryOf(const Tensor& input) const;

  // Fills `patches` (rows x size_, row-major) for group g from the chosen output positions.
  void Im2Col(const Tensor& input, const Geometry& geometry, int64_t g,
              const std::vector<int64_t>& positions, std::vector<float>* patches) const;

  enum class Kind { kConv, kRows } kind_ = Kind::kRows;
  int64_t groups_ = 1;
  int64_t size_ = 0;
  int64_t rows_ = 0;
  std::vector<double> gram_;
  // Conv geometry (spatial dims padded to 2: a 1-D conv has height 1).
  int64_t in_channels_per_group_ = 0;
  int64_t rank_ = 4;
  int64_t kernel_[2] = {1, 1}, stride_[2] = {1, 1}, dilation_[2] = {1, 1}, pad_begin_[2] = {0, 0},
          pad_end_[2] = {0, 0};
  std::string auto_pad_;
};

// `weights` quantized on the grid QuantizeWeights(weights, channel_axis, spec) chooses, rounded
// by GPTQ against `gram` (whose groups split the output channels evenly). The channel's weights
// are the elements along every axis but `channel_axis`, in row-major order, matching the gram's
// vector elements. With per-tensor quantization the single scale is kept for every channel.
absl::StatusOr<QuantizedTensor> RoundWeightsToGram(const Tensor& weights, int64_t channel_axis,
                                                   const WeightQuantizationSpec& spec,
                                                   const LayerInputGram& gram);

// GPTQ factorises H with LAPACK (OpenBLAS). OpenBLAS chooses its kernels from CPUID when it loads;
// on a CPU newer than the library it falls back to SSE3 ones (three times slower here), and only
// OPENBLAS_CORETYPE, read at load, overrides that. Which kernels it runs ("Haswell", "SkylakeX",
// "Zen", "Prescott", ...); the OPENBLAS_CORETYPE that would give this CPU's AVX kernels when it
// runs older ones and the variable is unset (empty otherwise: a process started with it, e.g.
// octetd starting itself again, gets them); and a line of advice in that case, for a log.
std::string LinearAlgebraKernels();
std::string LinearAlgebraCoreTypeToSet();
std::string LinearAlgebraAdvice();

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_GPTQ_ROUNDING_H_
