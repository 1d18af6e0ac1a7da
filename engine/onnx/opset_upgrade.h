// Octet's own opset upgrade of an imported graph: every op whose definition changed between the
// model's opset and the target is rewritten to the target's definition of the same function
// (attributes that became inputs, Softmax's 2-D coercion, Upsample as Resize, ...). It works on
// the graph the importer checked, needs no shapes the exporter did not write, and names the op
// and node it cannot upgrade. Quantization asks for opset 13, the first with per-axis
// QuantizeLinear/DequantizeLinear.
#ifndef OCTET_ENGINE_ONNX_OPSET_UPGRADE_H_
#define OCTET_ENGINE_ONNX_OPSET_UPGRADE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "engine/ir/graph.h"

namespace octet {

// The newest opset UpgradeOpset reaches.
inline constexpr int64_t kMaxUpgradeOpset = 13;

// Rewrites `graph` (at graph->opset) to compute the same function at opset `target`
// (graph->opset < target <= kMaxUpgradeOpset), and sets graph->opset. INVALID_ARGUMENT naming the
// node for a use whose meaning has no equivalent (Add's legacy `axis` broadcasting, a per-element
// BatchNormalization, a per-channel PRelu slope of unknown rank); the graph is then unchanged.
absl::Status UpgradeOpset(Graph* graph, int64_t target);

// Upsample (opsets 7 to 9; removed in 10) as the Resize that computes it, at the graph's own
// opset: the importer applies it so that such models run at all.
absl::Status RewriteUpsampleAsResize(Graph* graph);

}  // namespace octet

#endif  // OCTET_ENGINE_ONNX_OPSET_UPGRADE_H_
