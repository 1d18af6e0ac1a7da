// ONNX Runtime's QOperator form rewritten to QDQ at import (ARCHITECTURE.md: one quantized graph
// form inside Octet). Each QLinearConv / QLinearMatMul becomes DequantizeLinear on its inputs, the
// float op, and QuantizeLinear on its output; ConvInteger / MatMulInteger become the float op on
// zero-point-shifted inputs and a Cast to int32. The int8 runtime recognises these patterns, and
// the float runtime evaluates them exactly as quantized arithmetic (integer products and sums are
// exact in float while the accumulator stays below 2^24 in magnitude).
#ifndef OCTET_ENGINE_ONNX_QOPERATOR_REWRITE_H_
#define OCTET_ENGINE_ONNX_QOPERATOR_REWRITE_H_

#include "absl/status/status.h"
#include "engine/ir/graph.h"

namespace octet {

// Rewrites every default-domain QLinearConv, QLinearMatMul, ConvInteger and MatMulInteger node of
// `graph` in place, keeping topological order and the output names. REQUIRES: value types were
// inferred. INVALID_ARGUMENT naming the node when one has the wrong number of inputs or a
// per-row/per-column parameter whose operand's rank is not known.
absl::Status RewriteQOperatorsToQdq(Graph* graph);

}  // namespace octet

#endif  // OCTET_ENGINE_ONNX_QOPERATOR_REWRITE_H_
