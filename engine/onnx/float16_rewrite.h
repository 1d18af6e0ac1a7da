// Float16 exports computed in float32, at import. Models exported for GPUs often hold float16
// weights and compute in float16 between Casts (PyTorch's `.half()`, onnxconverter-common's
// float16 conversion); Octet's CPU kernels compute in float32, which holds every float16 value
// exactly. The rewrite keeps what a client sees: inputs and outputs declared float16 stay float16
// (a Cast at the boundary), everything inside is float32, so the results are the float16 model's
// up to float16's own rounding of its intermediate values, which float32 no longer applies.
#ifndef OCTET_ENGINE_ONNX_FLOAT16_REWRITE_H_
#define OCTET_ENGINE_ONNX_FLOAT16_REWRITE_H_

#include "engine/ir/graph.h"

namespace octet {

// Rewrites `graph` in place: float16 constants (and float16 tensor attributes) become float32; a
// Cast to float16 or float32 becomes an Identity when its source is (now) float32, else a Cast to
// float32; float16 graph inputs are cast to float32 by a first node, float16 graph outputs
// computed in float32 and cast back by a last one. Keeps topological order. REQUIRES: value types
// inferred. Returns whether the graph had float16 values.
bool ComputeFloat16InFloat32(Graph* graph);

}  // namespace octet

#endif  // OCTET_ENGINE_ONNX_FLOAT16_REWRITE_H_
