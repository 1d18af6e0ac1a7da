#include "engine/quant/precision.h"

namespace octet {

GraphPrecision ClassifyPrecision(const Graph& graph) {
  bool dequantizes_constants = false;
  for (const Node& node : graph.nodes) {
    if (!node.domain.empty()) continue;
    if (node.op_type == "QuantizeLinear" || node.op_type == "DynamicQuantizeLinear") {
      return GraphPrecision::kInt8;
    }
    if (node.op_type == "DequantizeLinear") {
      if (graph.FindConstant(node.input(0)) == nullptr) return GraphPrecision::kInt8;
      dequantizes_constants = true;
    }
  }
  return dequantizes_constants ? GraphPrecision::kWeightOnly : GraphPrecision::kFloat;
}

const char* GraphPrecisionName(GraphPrecision precision) {
  switch (precision) {
    case GraphPrecision::kFloat:
      return "float";
    case GraphPrecision::kInt8:
      return "int8";
    case GraphPrecision::kWeightOnly:
      return "weight_only";
  }
  return "unknown";
}

}  // namespace octet
