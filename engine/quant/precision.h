// What a graph computes in, read from its quantization nodes.
#ifndef OCTET_ENGINE_QUANT_PRECISION_H_
#define OCTET_ENGINE_QUANT_PRECISION_H_

#include "engine/ir/graph.h"

namespace octet {

enum class GraphPrecision {
  kFloat,
  // QuantizeLinear on activations (QDQ), whoever made it: already quantized, served as is.
  kInt8,
  // DequantizeLinear only on constants: weights stored quantized, computation in float.
  kWeightOnly,
};

GraphPrecision ClassifyPrecision(const Graph& graph);

const char* GraphPrecisionName(GraphPrecision precision);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_PRECISION_H_
