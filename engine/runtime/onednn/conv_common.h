// What the float and int8 convolutions on oneDNN share: ONNX Conv's geometry in oneDNN's terms,
// and the kernel that runs a convolution primitive in the layouts it prefers.
#ifndef OCTET_ENGINE_RUNTIME_ONEDNN_CONV_COMMON_H_
#define OCTET_ENGINE_RUNTIME_ONEDNN_CONV_COMMON_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "engine/runtime/onednn/onednn_common.h"

namespace octet::onednn {

// A source padded by the kernel itself rather than by oneDNN: an int8 source with a zero point
// other than 0 is padded with that zero point (real value 0, as ONNX pads), so that oneDNN runs
// without zero points (which its fast kernels lack for padded shapes).
struct ExplicitPadding {
  Shape inner;               // the unpadded source dims
  dnnl::memory::dims begin;  // padding before each spatial dim
  uint8_t fill = 0;          // the zero point's byte
  DataType type = DataType::kUint8;
};

// Output shape and oneDNN's strides, dilations and paddings of a Conv node over X and W.
struct ConvGeometry {
  Shape y_shape;
  Shape w_dims;  // with a leading group dim when grouped
  dnnl::memory::dims strides, dilations, pad_l, pad_r;
  int64_t group = 1;
};

// The geometry of `node` (ONNX Conv's attributes, auto_pad included) over X and W;
// INVALID_ARGUMENT naming the node when they do not fit.
absl::StatusOr<ConvGeometry> ComputeGeometry(const Node& node, const Shape& x, const Shape& w);

// A kernel running the convolution `pd` in the activation layouts it prefers: the source in
// layout `src` is reordered in, the result reordered out to `dst`; the blocked buffers and every
// primitive's scratchpad live in the workspace scratchpad, one after another. `packed_weights`
// (else input 1) in pd's layout; `packed_bias`, when set, is the bias instead of input 2 (int8
// convolutions take theirs in accumulator units, computed once). `sum_input`, when not negative,
// is the input the result is added to (a fused residual Add): the plan places the output in that
// input's buffer; when it did not, Run copies it there. `padding`: the kernel pads the source.
std::unique_ptr<Kernel> MakeConvKernel(const dnnl::convolution_forward::primitive_desc& pd,
                                       dnnl::memory::desc src, dnnl::memory::desc bias,
                                       dnnl::memory::desc dst, std::optional<Tensor> packed_weights,
                                       std::string what,
                                       std::optional<Tensor> packed_bias = std::nullopt,
                                       int sum_input = -1,
                                       std::optional<ExplicitPadding> padding = std::nullopt);

}  // namespace octet::onednn

#endif  // OCTET_ENGINE_RUNTIME_ONEDNN_CONV_COMMON_H_
