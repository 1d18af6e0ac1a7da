// Import of ONNX models into the engine's Graph.
#ifndef OCTET_ENGINE_ONNX_ONNX_IMPORTER_H_
#define OCTET_ENGINE_ONNX_ONNX_IMPORTER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/ir/graph.h"

namespace onnx {
class ModelProto;
class TensorProto;
}  // namespace onnx

namespace octet {

// The default-domain opsets the importer accepts.
inline constexpr int64_t kMinOnnxOpset = 6;
inline constexpr int64_t kMaxOnnxOpset = 17;

// Parses a serialized ONNX ModelProto and imports its main graph. Every refusal is
// INVALID_ARGUMENT with a message naming what is wrong: not a protobuf, no graph, an opset out of
// range, external or truncated tensor data, an unsupported element type, a value produced twice,
// a node input nothing produces, a cycle. Does not check that the runtime can execute the ops;
// see CheckGraphSupported() in engine/runtime.
//
// Also records every value's element type in Graph::value_types, removes Identity nodes and
// inference-mode Dropout nodes, and rewrites QOperator nodes to QDQ (qoperator_rewrite.h).
//
// Float16 exports are computed in float32 (float16_rewrite.h); inputs and outputs declared
// float16 keep their type.
//
// Upsample (opsets 7 to 9) becomes the Resize that computes it. Models older than `min_opset` (at
// least kMinOnnxOpset, at most kMaxUpgradeOpset) are brought up to it by Octet's own upgrade
// (opset_upgrade.h): quantization asks for 13, the first with per-axis QuantizeLinear and
// DequantizeLinear.
absl::StatusOr<Graph> ImportOnnxModel(absl::string_view serialized,
                                      int64_t min_opset = kMinOnnxOpset);
absl::StatusOr<Graph> ImportOnnxModel(const onnx::ModelProto& model,
                                      int64_t min_opset = kMinOnnxOpset);

// The tensor a TensorProto holds, with the checks the importer applies to initializers.
absl::StatusOr<Tensor> TensorFromOnnx(const onnx::TensorProto& proto);

}  // namespace octet

#endif  // OCTET_ENGINE_ONNX_ONNX_IMPORTER_H_
