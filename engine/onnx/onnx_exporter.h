// Export of the engine's Graph as an ONNX model (the quantized artifact's model.onnx).
#ifndef OCTET_ENGINE_ONNX_ONNX_EXPORTER_H_
#define OCTET_ENGINE_ONNX_ONNX_EXPORTER_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/ir/graph.h"

namespace octet {

struct ExportOptions {
  // The default-domain opset written; 0 means the graph's own.
  int64_t opset = 0;
  std::string producer_version;
};

// Serializes `graph` as an onnx.ModelProto. Deterministic: the same graph gives the same bytes
// (attributes and initializers are written in name order). INVALID_ARGUMENT when the graph holds
// something ONNX cannot express.
absl::StatusOr<std::string> ExportOnnxModel(const Graph& graph, const ExportOptions& options);

}  // namespace octet

#endif  // OCTET_ENGINE_ONNX_ONNX_EXPORTER_H_
