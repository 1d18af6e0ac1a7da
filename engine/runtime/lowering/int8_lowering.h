// Lowering of QDQ patterns to int8 kernels (ARCHITECTURE.md, "Quantized graph form"): the Q/DQ
// nodes around an op describe integer arithmetic; where the op and its fused activation have an
// int8 kernel, the pattern becomes one node of the runtime's own domain that reads and writes the
// quantized tensors directly. Whatever is not lowered keeps running in float between its DQ and Q.
#ifndef OCTET_ENGINE_RUNTIME_LOWERING_INT8_LOWERING_H_
#define OCTET_ENGINE_RUNTIME_LOWERING_INT8_LOWERING_H_

#include <string>
#include <vector>

#include "engine/ir/graph.h"

namespace octet {

struct Int8Lowering {
  Graph graph;
  // Per lowered node: "Int8Conv Conv 'conv1' + Relu".
  std::vector<std::string> lowered;
  // Per pattern left in float (simulated quantization) although it matched, and why.
  std::vector<std::string> kept_float;
};

// Lowers, in `graph` (which passed CheckGraphSupported):
//   DQ(x_q) -> Conv(DQ(w_q int8, zero points 0, per tensor or per output channel)[, bias])
//     [-> Relu | Clip | LeakyRelu | HardSwish | Sigmoid] -> Q   =>   ai.octet.Int8Conv
// where every scale and zero point is a per-tensor constant (the weight scale per tensor or per
// output channel), the bias is a float constant or an int32 constant behind DequantizeLinear, and
// every intermediate value has one reader and is not a model output, and oneDNN computes it
// exactly on this CPU (as the op's implementations say: op_definition.h). DequantizeLinear nodes
// left without readers are dropped.
Int8Lowering LowerQdqToInt8(const Graph& graph);

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_LOWERING_INT8_LOWERING_H_
