#include "engine/quant/post_training_quantizer.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/base/status_macros.h"
#include "engine/onnx/onnx_exporter.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/passes/batch_norm_folding.h"
#include "engine/quant/calibrated_passes.h"
#include "engine/quant/calibrator.h"
#include "engine/quant/drift_statistics.h"
#include "engine/quant/gptq_rounding.h"
#include "engine/quant/precision.h"
#include "engine/quant/qdq_insertion.h"
#include "engine/runtime/kernel_registry.h"
#include "engine/runtime/session.h"
#include "nlohmann/json.hpp"

namespace octet {
namespace {

using Json = nlohmann::ordered_json;

constexpr int64_t kQdqOpset = 13;

const char* SchemeName(QuantizationScheme scheme) {
  return scheme == QuantizationScheme::kSymmetric ? "symmetric" : "asymmetric";
}

const char* StageName(QuantizationStage stage) {
  switch (stage) {
    case QuantizationStage::kPrepare:
      return "prepare";
    case QuantizationStage::kCalibrate:
      return "calibrate";
    case QuantizationStage::kQuantize:
      return "quantize";
    case QuantizationStage::kEvaluate:
      return "evaluate";
    case QuantizationStage::kExport:
      return "export";
  }
  return "";
}

// JSON has no infinity: an exact match is reported as null.
Json Db(double value) { return std::isfinite(value) ? Json(value) : Json(nullptr); }

Json ConfigJson(const QuantizationConfig& config) {
  const bool weights_only = config.mode == QuantizationMode::kWeightsOnly;
  Json json;
  json["mode"] = weights_only ? "weights_only" : "weights_and_activations";
  if (!config.target_cpu.empty()) {
    json["target_cpu"] = config.target_cpu;
    json["target_cpu_reason"] = config.target_cpu_reason;
  }
  json["weights"] = {{"scheme", SchemeName(config.weights.scheme)},
                     {"granularity", config.weights.per_channel ? "per_channel" : "per_tensor"},
                     {"bits", config.weights.bits},
                     {"depthwise_bits", config.weights.depthwise_bits},
                     {"pointwise_bits", config.weights.pointwise_bits},
                     {"bits_where_needed", config.weights.bits_where_needed},
                     {"narrow_range", config.weights.narrow_range},
                     {"rounding", config.weights.rounding == Rounding::kStochastic ? "stochastic"
                                  : config.weights.rounding == Rounding::kGptq     ? "gptq"
                                                                                   : "nearest"},
                     {"seed", config.weights.seed}};
  if (!weights_only) {
    json["activations"] = {
        {"scheme", SchemeName(config.activation_scheme)},
        {"type", config.activation_scheme == QuantizationScheme::kSymmetric ? "int8" : "uint8"}};
    json["bias_correction"] = config.bias_correction;
    json["empirical_bias_correction"] = config.empirical_bias_correction;
    json["calibration"] = {{"method", CalibrationMethodName(config.calibration.method)},
                           {"percentile", config.calibration.percentile},
                           {"averaging_constant", config.calibration.averaging_constant},
                           {"batch_size", config.batch_size},
                           {"max_batches", config.max_batches}};
  }
  return json;
}

Json ParamsJson(const QuantizationParams& params) {
  return {{"type", DataTypeName(params.format.type)},
          {"bits", params.format.bits},
          {"axis", params.per_channel() ? Json(params.axis) : Json(nullptr)},
          {"scales", params.scales},
          {"zero_points", params.zero_points}};
}

// The evaluation: the summary output's figures at the top level (top-1 ones where they apply),
// every float32 output's under "outputs", and what was not measured under "notes".
Json ComparisonJson(const Comparison& c) {
  Json json;
  json["samples"] = c.samples;
  json["output"] = c.output;
  if (c.reference_top1.has_value()) {
    json["float_top1"] = *c.reference_top1;
    json["quantized_top1"] = *c.candidate_top1;
  }
  if (c.top1_agreement.has_value()) json["top1_agreement"] = *c.top1_agreement;
  json["output_sqnr_db"] = Db(c.output_sqnr_db);
  Json outputs = Json::array();
  for (const OutputComparison& o : c.outputs) {
    Json entry = {{"name", o.name}};
    if (!o.skipped.empty()) {
      entry["skipped"] = o.skipped;
    } else {
      entry["sqnr_db"] = Db(o.sqnr_db);
      entry["cosine"] = o.cosine;
      entry["max_abs_error"] = o.max_abs_error;
      if (o.agreement.has_value()) {
        entry["agreement_metric"] = o.rule.metric;
        entry["agreement"] = *o.agreement;
      } else {
        entry["agreement_note"] = o.rule.note;
      }
    }
    outputs.push_back(entry);
  }
  json["outputs"] = outputs;
  json["notes"] = c.notes;
  return json;
}

// The calibration samples (the first ones) on which the job chooses between candidates: the
// "auto" calibration method's ranges, the depthwise and pointwise layers' precision.
constexpr int64_t kSelectionSamples = 64;

class Pipeline {
 public:
  explicit Pipeline(const QuantizationRequest& request) : request_(request) {}

  absl::StatusOr<QuantizationResult> Run() {
    const QuantizationConfig& config = request_.config;
    OCTET_RETURN_IF_ERROR(ValidateConfig(config));
    OCTET_ASSIGN_OR_RETURN(Prepared prepared, Timed("prepare", [&] { return Prepare(); }));
    Calibrated calibrated;
    if (config.mode != QuantizationMode::kWeightsOnly) {
      OCTET_ASSIGN_OR_RETURN(calibrated, Timed("calibrate", [&] { return Calibrate(prepared); }));
    }
    calibrated.weights = config.weights;
    QdqOptions options;
    std::vector<std::string> notes;
    OCTET_ASSIGN_OR_RETURN(QdqGraph quantized, Quantize(prepared, &calibrated, &options, &notes));
    Evaluated evaluated;
    if (prepared.have_evaluation) {
      OCTET_ASSIGN_OR_RETURN(
          evaluated, Timed("evaluate", [&] { return Evaluate(prepared, quantized, options); }));
    }
    // EXPORT
    OCTET_RETURN_IF_ERROR(Report(QuantizationStage::kExport, 0, 0));
    ExportOptions export_options;
    export_options.opset = quantized.graph.opset;
    export_options.producer_version = request_.octet_version;
    QuantizationResult result;
    result.weights = calibrated.weights;
    OCTET_ASSIGN_OR_RETURN(result.model, Timed("export", [&] {
                             return ExportOnnxModel(quantized.graph, export_options);
                           }));
    OCTET_ASSIGN_OR_RETURN(const Json report,
                           BuildReport(prepared, calibrated, quantized, evaluated, notes));
    result.report_json = report.dump(2);
    result.evaluation = std::move(evaluated.whole);
    result.quantized_graph = std::move(quantized.graph);
    return result;
  }

 private:
  // The model ready to calibrate, and which samples calibrate and which evaluate.
  struct Prepared {
    Graph graph;
    int batch_norms_folded = 0;
    QuantizationSites sites;
    SampleSet calibration, evaluation;
    bool have_evaluation = false;
  };
  // One candidate of the "auto" calibration method, and how its quantized model compared.
  struct CandidateCalibration {
    CalibrationMethod method = CalibrationMethod::kMse;
    std::map<std::string, RealRange> ranges;
    std::map<std::string, QuantizationParams> params;
    double output_sqnr_db = 0.0;
  };
  // One trial of the depthwise and pointwise layers' precision: the worst output against float.
  struct PrecisionTrial {
    int depthwise_bits = 0, pointwise_bits = 0;
    std::string worst_output;
    double worst_output_sqnr_db = 0.0;
  };
  struct Calibrated {
    std::map<std::string, QuantizationParams> activation_params;
    std::map<std::string, RealRange> ranges;
    std::map<std::string, std::vector<double>> channel_means;
    // "auto": every candidate (the chosen one's ranges and params are the ones above).
    std::vector<CandidateCalibration> candidates;
    CalibrationMethod chosen = CalibrationMethod::kMse;
    int64_t selection_samples = 0;
    // "auto": the chosen candidate's comparison with float on the selection samples (weights
    // rounded to nearest), which is also ChoosePrecision's first trial.
    std::optional<Comparison> chosen_comparison;
    // The weights' precision as configured and, where the job measured whether depthwise and
    // pointwise layers need WeightQuantizationSpec::bits_where_needed, both trials.
    WeightQuantizationSpec weights;
    std::vector<PrecisionTrial> precision_trials;
  };
  // Float against quantized: the whole model, and with only the weights or only the activations
  // quantized (the whitepaper's split of where the error comes from).
  struct Evaluated {
    std::optional<Comparison> whole, weights_only, activations_only;
    // The activations whole->coverage counts, in order.
    std::vector<std::string> coverage_names;
  };

  // PREPARE: import, check, batch-norm folding, the layers to quantize, the samples' roles.
  absl::StatusOr<Prepared> Prepare() const {
    const bool weights_only = request_.config.mode == QuantizationMode::kWeightsOnly;
    OCTET_RETURN_IF_ERROR(Report(QuantizationStage::kPrepare, 0, 0));
    Prepared p;
    OCTET_ASSIGN_OR_RETURN(p.graph, ImportOnnxModel(request_.model, kQdqOpset));
    OCTET_RETURN_IF_ERROR(CheckGraphSupported(p.graph));
    if (const GraphPrecision precision = ClassifyPrecision(p.graph);
        precision != GraphPrecision::kFloat) {
      return absl::FailedPreconditionError(
          absl::StrCat("the model is already quantized (", GraphPrecisionName(precision),
                       "): its scales are kept as they are; quantize its float original instead"));
    }
    OCTET_ASSIGN_OR_RETURN(p.batch_norms_folded, FoldBatchNorms(&p.graph));
    p.sites = FindQuantizationSites(p.graph);
    if (request_.calibration != nullptr) {
      OCTET_RETURN_IF_ERROR(ValidateSampleSet(p.graph, *request_.calibration));
      p.calibration = *request_.calibration;
    } else if (!weights_only) {
      return absl::InvalidArgumentError(
          "quantizing activations needs calibration data (or use weights-only mode)");
    }
    if (request_.evaluation != nullptr) {
      OCTET_RETURN_IF_ERROR(ValidateSampleSet(p.graph, *request_.evaluation));
      p.evaluation = *request_.evaluation;
      p.have_evaluation = true;
    } else if (request_.calibration != nullptr && p.calibration.size() >= 2) {
      const int64_t held_out = std::clamp<int64_t>(p.calibration.size() / 5, 1, 1000);
      p.evaluation = SubSet(p.calibration, p.calibration.size() - held_out, held_out);
      p.calibration = SubSet(p.calibration, 0, p.calibration.size() - held_out);
      p.have_evaluation = true;
    } else if (request_.calibration != nullptr) {
      p.evaluation = p.calibration;
      p.have_evaluation = true;
    }
    return p;
  }

  // CALIBRATE: each activation's range, and its scale and zero point.
  absl::StatusOr<Calibrated> Calibrate(const Prepared& p) const {
    const QuantizationConfig& config = request_.config;
    const IntegerFormat activation_format = ActivationFormat(config);
    OCTET_RETURN_IF_ERROR(Report(QuantizationStage::kCalibrate, 0, 0));
    CalibrationRun run;
    run.options = config.calibration;
    run.batch_size = config.batch_size;
    run.max_batches = config.max_batches;
    run.target = RangeTarget{config.activation_scheme, activation_format};
    run.error_spaces = p.sites.error_spaces;
    run.num_threads = request_.num_threads;
    run.batch_runner = request_.batch_runner;
    OCTET_ASSIGN_OR_RETURN(
        CalibrationStatistics statistics,
        CalibrateRanges(p.graph, p.sites.activations, p.calibration, run,
                        [this](int done, int total) {
                          return Report(QuantizationStage::kCalibrate, done, total).ok();
                        }));
    Calibrated c;
    c.chosen = config.calibration.method;
    c.ranges = std::move(statistics.ranges);
    c.channel_means = std::move(statistics.channel_means);
    OCTET_ASSIGN_OR_RETURN(c.activation_params, ParamsOf(p, c.ranges));
    for (auto& [method, ranges] : statistics.candidate_ranges) {
      CandidateCalibration candidate;
      candidate.method = method;
      OCTET_ASSIGN_OR_RETURN(candidate.params, ParamsOf(p, ranges));
      candidate.ranges = std::move(ranges);
      c.candidates.push_back(std::move(candidate));
    }
    return c;
  }

  // Each activation's scale and zero point for `ranges`; values that only pick or move their
  // input's take the input's (QuantizationSites::same_params).
  absl::StatusOr<std::map<std::string, QuantizationParams>> ParamsOf(
      const Prepared& p, const std::map<std::string, RealRange>& ranges) const {
    const QuantizationConfig& config = request_.config;
    const IntegerFormat activation_format = ActivationFormat(config);
    std::map<std::string, QuantizationParams> all;
    for (const auto& [name, range] : ranges) {
      OCTET_ASSIGN_OR_RETURN(ScaleAndZeroPoint sz,
                             ChooseScaleAndZeroPoint(range.min, range.max, config.activation_scheme,
                                                     activation_format));
      QuantizationParams params;
      params.format = activation_format;
      params.scales = {sz.scale};
      params.zero_points = {sz.zero_point};
      all[name] = params;
    }
    for (const auto& [output, input] : p.sites.same_params) {
      auto from = all.find(input);
      if (from != all.end() && all.count(output) != 0) all[output] = from->second;
    }
    return all;
  }

  // How float and quantized outputs are compared (the configured output, class axis and
  // threshold), on the request's threads and batch runner; no per-tensor figures.
  ComparisonRun OutputComparison() const {
    const QuantizationConfig& config = request_.config;
    ComparisonRun compare;
    compare.output = config.evaluation_output;
    compare.class_axis = config.evaluation_class_axis;
    compare.threshold = config.evaluation_threshold;
    compare.batch_size = config.batch_size;
    compare.num_threads = request_.num_threads;
    compare.batch_runner = request_.batch_runner;
    return compare;
  }

  // The "auto" method's choice: the candidate whose quantized model (weights as `options` has
  // them) has the highest output SQNR against float on the first kSelectionSamples calibration
  // samples; the first candidate on ties. Never the evaluation data, which stays unseen.
  absl::Status ChooseCalibration(const Prepared& p, const QdqOptions& options,
                                 Calibrated* c) const {
    c->selection_samples = std::min(p.calibration.size(), kSelectionSamples);
    const SampleSet samples = SubSet(p.calibration, 0, c->selection_samples);
    // Every candidate against one run of the float model per batch.
    std::vector<QdqGraph> quantized;
    std::vector<const Graph*> graphs;
    for (const CandidateCalibration& candidate : c->candidates) {
      QdqOptions trial = options;
      trial.activations = candidate.params;
      OCTET_ASSIGN_OR_RETURN(quantized.emplace_back(), InsertQdq(p.graph, p.sites, trial));
    }
    for (const QdqGraph& q : quantized) graphs.push_back(&q.graph);
    ComparisonRun compare = OutputComparison();
    absl::Status cancelled;
    compare.progress = [&](int done, int total) {
      cancelled = Report(QuantizationStage::kQuantize, done, total);
      return cancelled.ok();
    };
    absl::StatusOr<std::vector<Comparison>> comparisons =
        CompareGraphs(p.graph, graphs, samples, compare);
    OCTET_RETURN_IF_ERROR(cancelled);
    OCTET_RETURN_IF_ERROR(comparisons.status());
    const CandidateCalibration* best = nullptr;
    for (size_t k = 0; k < c->candidates.size(); ++k) {
      CandidateCalibration& candidate = c->candidates[k];
      candidate.output_sqnr_db = (*comparisons)[k].output_sqnr_db;
      // NaN (no comparable output) never wins.
      if (best == nullptr || candidate.output_sqnr_db > best->output_sqnr_db) {
        best = &candidate;
        c->chosen_comparison = (*comparisons)[k];
      }
    }
    if (best == nullptr) return absl::OkStatus();
    c->chosen = best->method;
    c->ranges = best->ranges;
    c->activation_params = best->params;
    return absl::OkStatus();
  }

  static IntegerFormat ActivationFormat(const QuantizationConfig& config) {
    return config.activation_scheme == QuantizationScheme::kSymmetric
               ? IntegerFormat{DataType::kInt8, 8, true}
               : IntegerFormat{DataType::kUint8, 8, false};
  }

  // The worst output SQNR of the model `options` makes against float on `samples`, and its name.
  absl::StatusOr<PrecisionTrial> TryPrecision(const Prepared& p, const QdqOptions& options,
                                              const SampleSet& samples) const {
    OCTET_ASSIGN_OR_RETURN(QdqGraph quantized, InsertQdq(p.graph, p.sites, options));
    OCTET_ASSIGN_OR_RETURN(Comparison comparison,
                           CompareGraphs(p.graph, quantized.graph, samples, OutputComparison()));
    return TrialOf(options, comparison);
  }

  static PrecisionTrial TrialOf(const QdqOptions& options, const Comparison& comparison) {
    PrecisionTrial trial;
    trial.depthwise_bits = options.weight_spec.DepthwiseBits();
    trial.pointwise_bits = options.weight_spec.PointwiseBits();
    trial.worst_output_sqnr_db = std::numeric_limits<double>::infinity();
    for (const auto& output : comparison.outputs) {
      if (!output.skipped.empty() || std::isnan(output.sqnr_db)) continue;
      if (output.sqnr_db < trial.worst_output_sqnr_db) {
        trial.worst_output_sqnr_db = output.sqnr_db;
        trial.worst_output = output.name;
      }
    }
    return trial;
  }

  // Whether depthwise and pointwise layers need WeightQuantizationSpec::bits_where_needed. The
  // model is measured against float on the first calibration samples (weights rounded to nearest,
  // the chosen activation ranges) with the configured precision, then, while its worst output
  // stays below kPrecisionNeededBelowDb, with the pointwise layers raised, then with the depthwise
  // ones too (in that order: Octet's 8-bit AVX2 depthwise body costs more speed than its pointwise
  // product, and pointwise layers carry the error where it was seen). The first that reaches the
  // bound is kept, else the one with the best worst output (c->weights).
  absl::Status ChoosePrecision(const Prepared& p, Calibrated* c, QdqOptions* options) const {
    const int needed = c->weights.bits_where_needed;
    bool raises_pointwise = false, raises_depthwise = false;
    for (const QuantizedLayer& layer : p.sites.layers) {
      if (layer.weight_input < 0 || LayerWeightSpec(c->weights, layer).bits >= needed) continue;
      raises_pointwise |= layer.pointwise;
      raises_depthwise |= layer.depthwise;
    }
    std::vector<WeightQuantizationSpec> candidates = {c->weights};
    if (raises_pointwise) {
      candidates.push_back(candidates.back());
      candidates.back().pointwise_bits = std::max(c->weights.PointwiseBits(), needed);
    }
    if (raises_depthwise) {
      candidates.push_back(candidates.back());
      candidates.back().depthwise_bits = std::max(c->weights.DepthwiseBits(), needed);
    }
    if (candidates.size() == 1) return absl::OkStatus();
    const SampleSet samples =
        SubSet(p.calibration, 0, std::min(p.calibration.size(), kSelectionSamples));
    QdqOptions trial = *options;
    trial.activations = c->activation_params;
    size_t best = 0;
    for (size_t k = 0; k < candidates.size(); ++k) {
      trial.weight_spec = candidates[k];
      // The configured precision with the chosen ranges is what "auto" calibration measured.
      PrecisionTrial measured;
      if (k == 0 && c->chosen_comparison.has_value()) {
        measured = TrialOf(trial, *c->chosen_comparison);
      } else {
        OCTET_ASSIGN_OR_RETURN(measured, TryPrecision(p, trial, samples));
      }
      c->precision_trials.push_back(measured);
      if (measured.worst_output_sqnr_db > c->precision_trials[best].worst_output_sqnr_db) best = k;
      if (measured.worst_output_sqnr_db >= kPrecisionNeededBelowDb) {
        best = k;
        break;
      }
    }
    c->weights = candidates[best];
    options->weight_spec = candidates[best];
    return absl::OkStatus();
  }

  // QUANTIZE: weights (rounded as configured), biases, QDQ around every quantized tensor; the
  // options used land in `options`, what the report should say in `notes`.
  absl::StatusOr<QdqGraph> Quantize(const Prepared& p, Calibrated* calibrated, QdqOptions* options,
                                    std::vector<std::string>* notes) const {
    const QuantizationConfig& config = request_.config;
    const Calibrated& c = *calibrated;
    OCTET_RETURN_IF_ERROR(Report(QuantizationStage::kQuantize, 0, 0));
    options->weight_spec = c.weights;
    if (config.bias_correction) options->input_channel_means = c.channel_means;
    if (config.weights.rounding == Rounding::kGptq && request_.calibration == nullptr) {
      notes->push_back(
          "GPTQ rounding needs calibration data (statistics of each layer's inputs); none was "
          "given, so the weights were rounded to nearest");
    }
    // "auto" chooses the ranges with weights rounded to nearest: GPTQ's rounding depends on the
    // ranges (below), and runs once, not once per candidate.
    if (!calibrated->candidates.empty()) {
      OCTET_RETURN_IF_ERROR(
          Timed("choose calibration", [&] { return ChooseCalibration(p, *options, calibrated); }));
    }
    if (config.weights.bits_where_needed != 0 && request_.calibration != nullptr) {
      OCTET_RETURN_IF_ERROR(
          Timed("choose precision", [&] { return ChoosePrecision(p, calibrated, options); }));
    }
    if (config.weights.rounding == Rounding::kGptq && request_.calibration != nullptr) {
      OCTET_ASSIGN_OR_RETURN(options->weight_overrides, Timed("gptq rounding", [&] {
                               return RoundWeightsByGptq(p.graph, p.sites, p.calibration,
                                                         c.activation_params, c.weights, Passes(),
                                                         notes);
                             }));
    }
    options->activations = c.activation_params;
    if (config.bias_correction && request_.calibration != nullptr) {
      OCTET_ASSIGN_OR_RETURN(options->input_quantization_shifts, Timed("bias correction", [&] {
                               return QuantizationChannelShifts(p.graph, c.activation_params,
                                                                p.calibration, Passes());
                             }));
    }
    OCTET_ASSIGN_OR_RETURN(QdqGraph quantized, InsertQdq(p.graph, p.sites, *options));
    if (config.empirical_bias_correction && config.mode != QuantizationMode::kWeightsOnly) {
      OCTET_ASSIGN_OR_RETURN(quantized, Timed("empirical bias correction", [&] {
                               return CorrectBiasesEmpirically(p.graph, p.sites, p.calibration,
                                                               Passes(), std::move(quantized),
                                                               options);
                             }));
    }
    return quantized;
  }

  // EVALUATE: the whole model, then each layer's output, with weights only and activations only
  // quantized to split the error.
  absl::StatusOr<Evaluated> Evaluate(const Prepared& p, const QdqGraph& quantized,
                                     const QdqOptions& options) const {
    const QuantizationConfig& config = request_.config;
    const bool split = config.mode != QuantizationMode::kWeightsOnly && request_.split_layer_errors;
    OCTET_RETURN_IF_ERROR(Report(QuantizationStage::kEvaluate, 0, 0));
    ComparisonRun compare = OutputComparison();
    for (const QuantizedLayer& layer : p.sites.layers) compare.tensors.push_back(layer.output);
    compare.progress = [&](int done, int total) {
      return Report(QuantizationStage::kEvaluate, done, total).ok();
    };
    Evaluated e;
    // The float activations are also held to their quantized ranges: the evaluation data's own
    // out-of-range share, beside which the drift monitor puts live traffic's.
    for (const auto& [name, params] : options.activations) {
      if (params.per_channel()) continue;
      absl::StatusOr<ValueRange> range =
          QuantizedRange(params.scales[0], params.zero_points[0], params.format.type);
      if (!range.ok()) continue;
      compare.coverage.emplace_back(name, *range);
      e.coverage_names.push_back(name);
    }
    if (!split) {
      OCTET_ASSIGN_OR_RETURN(e.whole,
                             CompareGraphs(p.graph, quantized.graph, p.evaluation, compare));
      return e;
    }
    // The whole model, weights only and activations only, against one float run per batch.
    QdqOptions weights_alone = options;
    weights_alone.activations.clear();
    weights_alone.input_quantization_shifts.clear();
    OCTET_ASSIGN_OR_RETURN(QdqGraph w, InsertQdq(p.graph, p.sites, weights_alone));
    QdqOptions activations_alone = options;
    activations_alone.quantize_weights = false;
    OCTET_ASSIGN_OR_RETURN(QdqGraph a, InsertQdq(p.graph, p.sites, activations_alone));
    const Graph* candidates[] = {&quantized.graph, &w.graph, &a.graph};
    OCTET_ASSIGN_OR_RETURN(std::vector<Comparison> comparisons,
                           CompareGraphs(p.graph, candidates, p.evaluation, compare));
    e.whole = std::move(comparisons[0]);
    e.weights_only = std::move(comparisons[1]);
    e.activations_only = std::move(comparisons[2]);
    return e;
  }

  // report.json: the config, every tensor's parameters and range, each layer's SQNR, the
  // evaluation, the nodes left in float, and how the runtime executes the artifact here.
  absl::StatusOr<Json> BuildReport(const Prepared& p, const Calibrated& c,
                                   const QdqGraph& quantized, const Evaluated& e,
                                   std::vector<std::string>& rounding_notes) const {
    const QuantizationConfig& config = request_.config;
    Json report;
    report["octet_version"] = request_.octet_version;
    report["config"] = ConfigJson(config);
    if (config.mode != QuantizationMode::kWeightsOnly) {
      // The method whose ranges the model has; with "auto", every candidate's figure.
      Json calibration = {{"method", CalibrationMethodName(c.chosen)}};
      if (!c.candidates.empty()) {
        Json candidates = Json::array();
        for (const CandidateCalibration& candidate : c.candidates) {
          candidates.push_back({{"method", CalibrationMethodName(candidate.method)},
                                {"output_sqnr_db", Db(candidate.output_sqnr_db)}});
        }
        calibration["chosen_by"] = "output SQNR against float on calibration samples";
        calibration["samples"] = c.selection_samples;
        calibration["candidates"] = candidates;
      }
      report["calibration"] = calibration;
    }
    // The weights' precision per kind of layer, as the model has it, and how it was chosen.
    Json precision = {{"depthwise_bits", c.weights.DepthwiseBits()},
                      {"pointwise_bits", c.weights.PointwiseBits()},
                      {"other_bits", c.weights.bits}};
    if (!c.precision_trials.empty()) {
      Json trials = Json::array();
      for (const PrecisionTrial& trial : c.precision_trials) {
        trials.push_back({{"depthwise_bits", trial.depthwise_bits},
                          {"pointwise_bits", trial.pointwise_bits},
                          {"worst_output", trial.worst_output},
                          {"worst_output_sqnr_db", Db(trial.worst_output_sqnr_db)}});
      }
      precision["chosen_by"] =
          absl::StrCat("the configured weights, then pointwise and then depthwise layers at ",
                       c.weights.bits_where_needed,
                       " bits, measured against float on calibration samples "
                       "until the worst output reaches ",
                       kPrecisionNeededBelowDb, " dB SQNR: the first that does, else the best");
      precision["trials"] = trials;
    }
    report["weight_precision"] = precision;
    report["batch_norms_folded"] = p.batch_norms_folded;
    report["opset"] = quantized.graph.opset;
    // Each step's wall time, in order, until this report is built.
    Json steps = Json::array();
    absl::Duration total;
    for (const auto& [name, took] : timings_) {
      steps.push_back({{"step", name}, {"seconds", absl::ToDoubleSeconds(took)}});
      total += took;
    }
    report["timing"] = {{"seconds", absl::ToDoubleSeconds(total)}, {"steps", steps}};
    Json notes = Json::array();
    if (config.weights.bits < 8) {
      notes.push_back(absl::StrCat(
          config.weights.bits,
          "-bit weights are stored in int8 initializers (ONNX opset 17 and older has no smaller "
          "type): the model file does not shrink against 8-bit weights."));
    }
    if (!p.have_evaluation) notes.push_back("no samples were given: no evaluation");
    for (std::string& note : rounding_notes) notes.push_back(std::move(note));
    report["notes"] = notes;
    report["tensors"] = TensorsJson(p, c, quantized);
    report["layers"] = LayersJson(p, e);
    if (p.calibration.size() > 0) report["drift_reference"] = DriftReferenceJson(p, c, e);
    Json float_ops = Json::array();
    std::vector<bool> is_layer(p.graph.nodes.size(), false);
    for (const QuantizedLayer& layer : p.sites.layers) is_layer[layer.node] = true;
    for (size_t i = 0; i < p.graph.nodes.size(); ++i) {
      if (!is_layer[i]) float_ops.push_back(p.graph.nodes[i].Describe());
    }
    report["unquantized_nodes"] = float_ops;
    if (e.whole.has_value()) {
      Json evaluation_json = ComparisonJson(*e.whole);
      evaluation_json["data"] =
          request_.evaluation != nullptr ? "evaluation dataset" : "held-out calibration samples";
      report["evaluation"] = evaluation_json;
    }
    if (p.have_evaluation) {
      OCTET_ASSIGN_OR_RETURN(std::optional<Json> runtime, RuntimeJson(p, quantized));
      if (runtime.has_value()) report["runtime"] = *std::move(runtime);
    }
    return report;
  }

  static Json TensorsJson(const Prepared& p, const Calibrated& c, const QdqGraph& quantized) {
    Json tensors = Json::object();
    for (const auto& [name, params] : quantized.constants) {
      Json entry = ParamsJson(params);
      entry["kind"] = params.format.type == DataType::kInt32 ? "bias" : "weight";
      tensors[name] = entry;
    }
    for (const auto& [name, params] : c.activation_params) {
      Json entry = ParamsJson(params);
      entry["kind"] = "activation";
      const RealRange& range = c.ranges.at(name);
      entry["range"] = {range.min, range.max};
      const auto space = p.sites.error_spaces.find(name);
      if (space != p.sites.error_spaces.end()) {
        entry["range_error_space"] = ErrorSpaceName(space->second);
      }
      tensors[name] = entry;
    }
    return tensors;
  }

  // What the server's drift monitor compares live inputs with: per float input, the range it is
  // held to (its quantization's, or the calibration data's own when the input is not quantized)
  // and the calibration data's histogram over it; per quantized activation, the evaluation
  // data's values outside its range.
  Json DriftReferenceJson(const Prepared& p, const Calibrated& c, const Evaluated& e) const {
    Json inputs = Json::array();
    for (const NamedTensor& named : p.calibration.inputs) {
      const Tensor& values = named.second;
      if (values.type() != DataType::kFloat32 || values.element_count() == 0) continue;
      const absl::Span<const float> data(values.data<float>(), values.element_count());
      std::optional<ValueRange> range;
      std::string source = "quantization";
      const auto params = c.activation_params.find(named.first);
      if (params != c.activation_params.end() && !params->second.per_channel()) {
        absl::StatusOr<ValueRange> quantized = QuantizedRange(
            params->second.scales[0], params->second.zero_points[0], params->second.format.type);
        if (quantized.ok()) range = *quantized;
      }
      if (!range.has_value()) {
        const auto [lo, hi] = std::minmax_element(data.begin(), data.end());
        range = ValueRange{*lo, *hi};
        source = "calibration data";
      }
      BinnedHistogram histogram(*range);
      histogram.Add(data);
      RangeCoverage coverage;
      coverage.Add(data, *range);
      inputs.push_back({{"name", named.first},
                        {"range", {range->min, range->max}},
                        {"range_source", source},
                        {"histogram", histogram.counts()},
                        {"values", coverage.values},
                        {"out_of_range", coverage.out_of_range}});
    }
    Json result = {{"data", "calibration samples"}, {"inputs", inputs}};
    if (e.whole.has_value()) {
      Json tensors = Json::array();
      for (size_t j = 0; j < e.coverage_names.size() && j < e.whole->coverage.size(); ++j) {
        const RangeCoverage& coverage = e.whole->coverage[j];
        tensors.push_back({{"name", e.coverage_names[j]},
                           {"values", coverage.values},
                           {"out_of_range", coverage.out_of_range}});
      }
      result["tensors"] = tensors;
      result["tensors_data"] =
          request_.evaluation != nullptr ? "evaluation dataset" : "held-out calibration samples";
    }
    return result;
  }

  static Json LayersJson(const Prepared& p, const Evaluated& e) {
    Json layers = Json::array();
    for (size_t i = 0; i < p.sites.layers.size(); ++i) {
      const QuantizedLayer& layer = p.sites.layers[i];
      Json entry = {{"name", layer.name}, {"op_type", layer.op_type}, {"output", layer.output}};
      if (e.whole.has_value()) entry["sqnr_db"] = Db(e.whole->tensor_sqnr_db[i]);
      if (e.weights_only.has_value()) {
        entry["weight_only_sqnr_db"] = Db(e.weights_only->tensor_sqnr_db[i]);
        entry["activation_only_sqnr_db"] = Db(e.activations_only->tensor_sqnr_db[i]);
      }
      layers.push_back(entry);
    }
    return layers;
  }

  // How Octet's runtime executes the artifact on this machine: each step's nodes (fusions
  // included), oneDNN's implementation, int8 zero points; and the quantized patterns it leaves
  // in float, with the reason (for example a CPU without VNNI). nullopt with fewer evaluation
  // samples than a batch.
  absl::StatusOr<std::optional<Json>> RuntimeJson(const Prepared& p,
                                                  const QdqGraph& quantized) const {
    SessionOptions runtime_options;
    runtime_options.num_threads = request_.num_threads;
    OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Session> runtime,
                           CreateSession(request_.batch_runner, quantized.graph, runtime_options));
    int64_t batch = BatchSizeFor(quantized.graph, request_.config.batch_size);
    if (batch == request_.config.batch_size) batch = std::min<int64_t>(batch, p.evaluation.size());
    if (p.evaluation.size() < batch) return std::nullopt;
    absl::StatusOr<std::vector<StepDescription>> described;
    OCTET_RETURN_IF_ERROR(RunBatch(request_.batch_runner, [&] {
      described = runtime->Describe(SliceSamples(p.evaluation, 0, batch));
      return absl::OkStatus();
    }));
    OCTET_ASSIGN_OR_RETURN(std::vector<StepDescription> steps, std::move(described));
    Json runtime_json;
    runtime_json["batch_size"] = batch;
    Json steps_json = Json::array();
    for (const StepDescription& step : steps) {
      Json entry = {{"nodes", step.nodes},
                    {"op_type", step.op_type},
                    {"implementation", step.implementation}};
      if (!step.notes.empty()) entry["notes"] = step.notes;
      steps_json.push_back(entry);
    }
    runtime_json["steps"] = steps_json;
    runtime_json["int8_nodes"] = runtime->int8_nodes();
    runtime_json["simulated_nodes"] = runtime->simulated_nodes();
    return runtime_json;
  }

  // The passes' view of the request; their progress is reported as QUANTIZE.
  PassContext Passes() const {
    return PassContext{request_.config, request_.num_threads, request_.batch_runner,
                       [this] { return Report(QuantizationStage::kQuantize, 0, 0); }};
  }

  absl::Status Report(QuantizationStage stage, int done, int total) const {
    if (!request_.progress) return absl::OkStatus();
    if (request_.progress(QuantizationProgress{stage, done, total})) return absl::OkStatus();
    return absl::CancelledError(absl::StrCat("cancelled during ", StageName(stage)));
  }

  // Runs one step of the job and records how long it took (the report's "timing"), returning
  // what the step returns.
  template <typename Step>
  std::invoke_result_t<Step> Timed(const char* name, Step&& step) const {
    const absl::Time start = absl::Now();
    auto result = step();
    timings_.emplace_back(name, absl::Now() - start);
    return result;
  }

  const QuantizationRequest& request_;
  // Each step's wall time, in order; written by the const stages through Timed.
  mutable std::vector<std::pair<std::string, absl::Duration>> timings_;
};

}  // namespace

absl::Status ValidateConfig(const QuantizationConfig& config) {
  if (config.weights.bits < kMinWeightBits || config.weights.bits > kMaxWeightBits) {
    return absl::InvalidArgumentError(absl::StrCat("weights.bits is ", config.weights.bits,
                                                   "; supported: ", kMinWeightBits, " to ",
                                                   kMaxWeightBits));
  }
  for (const auto& [field, bits] :
       {std::pair<const char*, int>{"depthwise_bits", config.weights.depthwise_bits},
        {"pointwise_bits", config.weights.pointwise_bits},
        {"bits_where_needed", config.weights.bits_where_needed}}) {
    if (bits != 0 && (bits < kMinWeightBits || bits > kMaxWeightBits)) {
      return absl::InvalidArgumentError(absl::StrCat("weights.", field, " is ", bits,
                                                     "; supported: 0 (as bits) or ", kMinWeightBits,
                                                     " to ", kMaxWeightBits));
    }
  }
  if (config.batch_size < 1 || config.batch_size > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration batch size ", config.batch_size, " is not in [1, 4096]"));
  }
  if (config.max_batches < 1 || config.max_batches > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("max batches ", config.max_batches, " is not in [1, 100000]"));
  }
  if (!std::isfinite(config.evaluation_threshold)) {
    return absl::InvalidArgumentError("evaluation threshold must be finite");
  }
  if (config.evaluation_class_axis.has_value() &&
      (*config.evaluation_class_axis < -8 || *config.evaluation_class_axis > 8 ||
       *config.evaluation_class_axis == 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("evaluation class axis ", *config.evaluation_class_axis,
                     " is not an axis after the samples' (1 to 8, or -8 to -1 from the end)"));
  }
  return MakeRangeObserver(config.calibration).status();
}

absl::StatusOr<QuantizationResult> QuantizeModel(const QuantizationRequest& request) {
  return Pipeline(request).Run();
}

}  // namespace octet
