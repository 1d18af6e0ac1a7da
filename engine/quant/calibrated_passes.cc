#include "engine/quant/calibrated_passes.h"

#include <omp.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/quant/calibrator.h"
#include "engine/quant/gptq_rounding.h"
#include "engine/runtime/session.h"
#include "engine/tensor/affine_quantization.h"

namespace octet {

namespace {

constexpr int64_t kMaxSamples = 256, kMaxVectorsPerBatch = 4096, kMaxVectorSize = 8192;
constexpr int64_t kMaxGroupBytes = int64_t{1} << 30;

// A layer GPTQ rounds: its weights and the statistics of its inputs.
struct GptqLayer {
  const QuantizedLayer* layer;
  std::string weights;
  LayerInputGram gram;
};

// The layers GPTQ can round; each one it cannot is named in `notes`.
std::vector<GptqLayer> GptqLayers(const Graph& graph, const QuantizationSites& sites,
                                  std::vector<std::string>* notes) {
  absl::flat_hash_map<std::string, int> uses;
  for (const QuantizedLayer& layer : sites.layers) {
    if (layer.weight_input >= 0) ++uses[graph.nodes[layer.node].input(layer.weight_input)];
  }
  std::vector<GptqLayer> entries;
  for (const QuantizedLayer& layer : sites.layers) {
    if (layer.weight_input < 0) continue;
    const Node& node = graph.nodes[layer.node];
    const std::string& weights = node.input(layer.weight_input);
    if (uses[weights] > 1) {
      notes->push_back(absl::StrCat("GPTQ rounding: weights '", weights,
                                    "' are shared by several layers; rounded to nearest"));
      continue;
    }
    absl::StatusOr<LayerInputGram> gram = LayerInputGram::For(
        node, layer.weight_input, layer.weight_channel_axis, graph.FindConstant(weights)->shape());
    if (!gram.ok()) {
      notes->push_back(
          absl::StrCat("GPTQ rounding: ", gram.status().message(), "; rounded to nearest"));
      continue;
    }
    if (gram->size() > kMaxVectorSize) {
      notes->push_back(absl::StrCat("GPTQ rounding: ", node.Describe(), " dots vectors of ",
                                    gram->size(), " values (over ", kMaxVectorSize,
                                    "); rounded to nearest"));
      continue;
    }
    entries.push_back(GptqLayer{&layer, weights, *std::move(gram)});
  }
  return entries;
}

}  // namespace

namespace {

// `values` (float32) as a per-tensor QuantizeLinear -> DequantizeLinear pair leaves them; other
// tensors and per-channel parameters are left as they are.
void QuantizeDequantize(const QuantizationParams& params, Tensor* values) {
  if (params.per_channel() || params.scales.empty() || values->type() != DataType::kFloat32) {
    return;
  }
  const float scale = params.scales[0];
  const int32_t zero_point = params.zero_points[0];
  const IntegerRange range = params.format.range();
  float* data = values->data<float>();
  for (int64_t k = 0; k < values->element_count(); ++k) {
    data[k] = DequantizeValue(QuantizeValue(data[k], scale, zero_point, range), scale, zero_point);
  }
}

}  // namespace

absl::StatusOr<std::map<std::string, QuantizedTensor>> RoundWeightsByGptq(
    const Graph& graph, const QuantizationSites& sites, const SampleSet& calibration,
    const std::map<std::string, QuantizationParams>& activations,
    const WeightQuantizationSpec& spec, const PassContext& context,
    std::vector<std::string>* notes) {
  const QuantizationConfig& config = context.config;
  std::vector<GptqLayer> entries = GptqLayers(graph, sites, notes);
  std::map<std::string, QuantizedTensor> rounded;
  const SampleSet data = SubSet(calibration, 0, std::min<int64_t>(calibration.size(), kMaxSamples));
  const int64_t batch_size = BatchSizeFor(graph, config.batch_size);
  const int64_t batches = BatchCount(data.size(), batch_size, config.batch_size);
  SessionOptions session_options;
  session_options.num_threads = context.num_threads;
  session_options.lower_int8 = false;
  for (size_t begin = 0; begin < entries.size();) {
    // The next group: at least one layer, then as many as fit the memory bound.
    size_t end = begin;
    int64_t bytes = 0;
    while (end < entries.size() &&
           (end == begin || bytes + entries[end].gram.bytes() <= kMaxGroupBytes)) {
      bytes += entries[end++].gram.bytes();
    }
    std::vector<std::string> inputs;
    std::vector<size_t> input_of(end - begin);
    for (size_t e = begin; e < end; ++e) {
      const std::string& input = graph.nodes[entries[e].layer->node].input(0);
      const auto known = std::find(inputs.begin(), inputs.end(), input);
      input_of[e - begin] = known - inputs.begin();
      if (known == inputs.end()) inputs.push_back(input);
    }
    // Only the part of the model up to the group's inputs runs.
    OCTET_ASSIGN_OR_RETURN(
        std::unique_ptr<Session> session,
        CreateSession(context.batch_runner, WithOutputsOnly(graph, inputs), session_options));
    std::vector<Tensor> values;  // each batch's written over the last one's
    for (int64_t b = 0; b < batches; ++b) {
      const int64_t first = b * batch_size;
      const int64_t count = std::min(batch_size, data.size() - first);
      OCTET_RETURN_IF_ERROR(RunBatch(context.batch_runner, [&]() -> absl::Status {
        OCTET_RETURN_IF_ERROR(session->RunInto(SliceSamples(data, first, count), inputs, &values));
        for (size_t i = 0; i < inputs.size(); ++i) {
          const auto params = activations.find(inputs[i]);
          if (params != activations.end()) QuantizeDequantize(params->second, &values[i]);
        }
        for (size_t e = begin; e < end; ++e) {
          const uint64_t seed =
              spec.seed ^ (static_cast<uint64_t>(e) << 32) ^ static_cast<uint64_t>(b);
          OCTET_RETURN_IF_ERROR(
              entries[e].gram.Add(values[input_of[e - begin]], kMaxVectorsPerBatch, seed));
        }
        return absl::OkStatus();
      }));
      OCTET_RETURN_IF_ERROR(context.progress());
    }
    for (size_t e = begin; e < end; ++e) {
      GptqLayer& entry = entries[e];
      OCTET_RETURN_IF_ERROR(RunBatch(context.batch_runner, [&]() -> absl::Status {
        // The factorisations and the rounding run OpenMP teams of the request's size.
        omp_set_num_threads(context.num_threads);
        absl::StatusOr<QuantizedTensor> q =
            RoundWeightsToGram(*graph.FindConstant(entry.weights), entry.layer->weight_channel_axis,
                               LayerWeightSpec(spec, *entry.layer), entry.gram);
        if (!q.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("weights '", entry.weights, "' of ",
                                                         graph.nodes[entry.layer->node].Describe(),
                                                         ": ", q.status().message()));
        }
        rounded.emplace(entry.weights, *std::move(q));
        return absl::OkStatus();
      }));
      entry.gram = LayerInputGram::Empty();  // frees the statistics
      OCTET_RETURN_IF_ERROR(context.progress());
    }
    begin = end;
  }
  return rounded;
}

absl::StatusOr<std::map<std::string, std::vector<double>>> QuantizationChannelShifts(
    const Graph& graph, const std::map<std::string, QuantizationParams>& activations,
    const SampleSet& calibration, const PassContext& context) {
  std::vector<std::string> tensors;
  for (const auto& [name, params] : activations) {
    if (!params.per_channel() && !params.scales.empty()) tensors.push_back(name);
  }
  std::map<std::string, std::vector<double>> means;
  if (tensors.empty()) return means;
  const SampleSet data = SubSet(calibration, 0, std::min<int64_t>(calibration.size(), 256));
  const int64_t batch_size = BatchSizeFor(graph, context.config.batch_size);
  const int64_t batches = BatchCount(data.size(), batch_size, context.config.batch_size);
  SessionOptions session_options;
  session_options.num_threads = context.num_threads;
  session_options.lower_int8 = false;
  OCTET_ASSIGN_OR_RETURN(
      std::unique_ptr<Session> session,
      CreateSession(context.batch_runner, WithExtraOutputs(graph, tensors), session_options));
  std::vector<int64_t> counts(tensors.size(), 0);
  std::vector<Tensor> values;  // each batch's written over the last one's
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t first = b * batch_size;
    const int64_t count = std::min(batch_size, data.size() - first);
    OCTET_RETURN_IF_ERROR(RunBatch(context.batch_runner, [&]() -> absl::Status {
      OCTET_RETURN_IF_ERROR(session->RunInto(SliceSamples(data, first, count), tensors, &values));
      for (size_t i = 0; i < tensors.size(); ++i) {
        Tensor& t = values[i];
        if (t.type() != DataType::kFloat32 || t.rank() < 2 || t.element_count() == 0) continue;
        const QuantizationParams& params = activations.at(tensors[i]);
        const float scale = params.scales[0];
        const int32_t zero_point = params.zero_points[0];
        const IntegerRange range = params.format.range();
        const int64_t channels = t.dim(1);
        const int64_t inner = t.element_count() / (t.dim(0) * channels);
        std::vector<double>& sums = means[tensors[i]];
        sums.resize(channels, 0.0);
        const float* v = t.data<float>();
        for (int64_t n = 0; n < t.dim(0); ++n) {
          for (int64_t c = 0; c < channels; ++c) {
            const float* block = v + (n * channels + c) * inner;
            double sum = 0.0;
            for (int64_t k = 0; k < inner; ++k) {
              const float x = block[k];
              sum +=
                  DequantizeValue(QuantizeValue(x, scale, zero_point, range), scale, zero_point) -
                  x;
            }
            sums[c] += sum;
          }
        }
        counts[i] += t.dim(0) * inner;
      }
      return absl::OkStatus();
    }));
    OCTET_RETURN_IF_ERROR(context.progress());
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto it = means.find(tensors[i]);
    if (it == means.end() || counts[i] == 0) continue;
    for (double& sum : it->second) sum /= counts[i];
  }
  return means;
}

absl::StatusOr<QdqGraph> CorrectBiasesEmpirically(const Graph& graph,
                                                  const QuantizationSites& sites,
                                                  const SampleSet& calibration,
                                                  const PassContext& context, QdqGraph quantized,
                                                  QdqOptions* options) {
  const SampleSet data = SubSet(calibration, 0, std::min<int64_t>(calibration.size(), 256));
  std::vector<std::string> outputs;
  for (const QuantizedLayer& layer : sites.layers) {
    if (layer.takes_bias && layer.weight_input >= 0) {
      outputs.push_back(graph.nodes[layer.node].outputs[0]);
    }
  }
  CalibrationRun run;
  run.options.method = CalibrationMethod::kMinMax;  // only the channel means are used
  run.batch_size = context.config.batch_size;
  run.max_batches = 1 << 20;
  run.num_threads = context.num_threads;
  run.batch_runner = context.batch_runner;
  OCTET_ASSIGN_OR_RETURN(CalibrationStatistics float_stats,
                         CalibrateRanges(graph, outputs, data, run, nullptr));
  for (const std::string& output : outputs) {
    OCTET_RETURN_IF_ERROR(context.progress());
    OCTET_ASSIGN_OR_RETURN(CalibrationStatistics measured,
                           CalibrateRanges(quantized.graph, {output}, data, run, nullptr));
    const std::vector<double>& f = float_stats.channel_means[output];
    const std::vector<double>& q = measured.channel_means[output];
    if (f.size() != q.size() || f.empty()) continue;
    std::vector<double>& shift = options->output_channel_shifts[output];
    shift.resize(f.size(), 0.0);
    for (size_t c = 0; c < f.size(); ++c) shift[c] += q[c] - f[c];
    OCTET_ASSIGN_OR_RETURN(quantized, InsertQdq(graph, sites, *options));
  }
  return quantized;
}

}  // namespace octet
