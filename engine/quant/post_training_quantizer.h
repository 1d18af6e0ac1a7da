// Post-training quantization end to end (ARCHITECTURE.md, data flow): PREPARE (import at opset 13
// or later, batch-norm folding) -> CALIBRATE -> QUANTIZE (QDQ insertion) -> EVALUATE (float vs
// quantized, per layer, weight-only and activation-only error split) -> EXPORT (QDQ ONNX and
// report.json). No gRPC: the server's job runner calls this.
#ifndef OCTET_ENGINE_QUANT_POST_TRAINING_QUANTIZER_H_
#define OCTET_ENGINE_QUANT_POST_TRAINING_QUANTIZER_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/ir/graph.h"
#include "engine/quant/evaluator.h"
#include "engine/quant/quantization_config.h"
#include "engine/quant/sample_set.h"

namespace octet {

enum class QuantizationStage { kPrepare, kCalibrate, kQuantize, kEvaluate, kExport };

struct QuantizationProgress {
  QuantizationStage stage = QuantizationStage::kPrepare;
  // Within the stage, for the stages that run batches.
  int batches_done = 0;
  int batches_total = 0;
};

// Called at each stage start and after each batch; returning false cancels the run, which then
// ends with CANCELLED before the next batch.
using QuantizationProgressCallback = std::function<bool(const QuantizationProgress&)>;

struct QuantizationRequest {
  // A float ONNX model.
  absl::string_view model;
  QuantizationConfig config;
  // Required for weights and activations; unused for weights only.
  const SampleSet* calibration = nullptr;
  // Optional. Without it the last fifth of the calibration samples (at most 1,000) is held out
  // of calibration and used for the report.
  const SampleSet* evaluation = nullptr;
  int num_threads = 1;
  // Runs each calibration and evaluation batch (for example on a shared executor); unset: directly.
  BatchRunner batch_runner;
  // Also measure each layer with only weights and only activations quantized (two more passes
  // over the evaluation samples).
  bool split_layer_errors = true;
  QuantizationProgressCallback progress;
  std::string octet_version;
};

struct QuantizationResult {
  // The QDQ model (deterministic bytes for the same request).
  std::string model;
  std::string report_json;
  Graph quantized_graph;
  // The weights' precision the model has: the configured one, with bits_where_needed given to
  // depthwise and pointwise layers where the job found the model needs it
  // (report.weight_precision).
  WeightQuantizationSpec weights;
  // Float vs quantized; nullopt when no samples were available (weights only without data).
  std::optional<Comparison> evaluation;
};

// INVALID_ARGUMENT for a model that does not import or that the runtime cannot execute, an
// invalid config, samples that do not fit the model, missing calibration data, or calibration
// values that are NaN or infinite (naming the tensor); FAILED_PRECONDITION for a model that is
// already quantized; CANCELLED when the callback says so.
absl::StatusOr<QuantizationResult> QuantizeModel(const QuantizationRequest& request);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_POST_TRAINING_QUANTIZER_H_
