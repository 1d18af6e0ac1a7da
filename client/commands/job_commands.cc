// octet quantize; octet jobs list | get | watch | cancel.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/commands/command.h"
#include "nlohmann/json.hpp"

namespace octet::client {
namespace {

namespace v1 = octet::v1;

std::string StateName(v1::JobState state) {
  return std::string(absl::StripPrefix(v1::JobState_Name(state), "JOB_STATE_"));
}

std::string StageName(v1::JobStage stage) {
  return absl::AsciiStrToLower(absl::StripPrefix(v1::JobStage_Name(stage), "JOB_STAGE_"));
}

// The job as one JSON object: the message's fields, the state by its short name, versions as
// numbers, and the stored report.json as an object under "report" (null until SUCCEEDED).
nlohmann::json JobJson(const v1::Job& job) {
  v1::Job without_report = job;
  without_report.clear_report_json();
  without_report.clear_manifest_json();
  nlohmann::json out = nlohmann::json::parse(ToJson(without_report));
  out["state"] = StateName(job.state());
  out["model_version"] = job.model_version();
  out["result_version"] = job.result_version();
  out["report"] = job.report_json().empty() ? nlohmann::json(nullptr)
                                            : nlohmann::json::parse(job.report_json(), nullptr,
                                                                    /*allow_exceptions=*/false);
  out["manifest"] = job.manifest_json().empty()
                        ? nlohmann::json(nullptr)
                        : nlohmann::json::parse(job.manifest_json(), nullptr,
                                                /*allow_exceptions=*/false);
  return out;
}

void PrintJobLine(const v1::Job& job) {
  std::cout << job.id() << "  " << StateName(job.state()) << "  " << job.model() << " v"
            << job.model_version();
  if (job.result_version() > 0) std::cout << " -> v" << job.result_version();
  if (job.state() == v1::JOB_STATE_RUNNING) {
    std::cout << "  " << StageName(job.progress().stage()) << " "
              << static_cast<int>(std::lround(job.progress().fraction() * 100)) << "%";
  }
  if (!job.error().empty()) std::cout << "  " << job.error();
  std::cout << "\n";
}

// A job's progress on stderr: on a terminal one line redrawn in place ([#####.....]  42%
// running  calibrate  batch 3/10); into a pipe or file a line only when the state or stage
// changes or another tenth of the work is done.
class ProgressPrinter {
 public:
  void operator()(const v1::Job& job) {
    const double fraction = std::clamp(job.progress().fraction(), 0.0, 1.0);
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '.');
    std::string line = absl::StrCat("[", bar, "] ", static_cast<int>(std::lround(fraction * 100)),
                                    "%  ", StateName(job.state()));
    if (job.state() == v1::JOB_STATE_RUNNING) {
      absl::StrAppend(&line, "  ", StageName(job.progress().stage()));
      if (job.progress().batches_total() > 0) {
        absl::StrAppend(&line, "  batch ", job.progress().batches_done(), "/",
                        job.progress().batches_total());
      }
    }
    if (terminal_) {
      std::cerr << "\r" << line << "\x1b[K" << std::flush;
      return;
    }
    const int tenth = static_cast<int>(fraction * 10);
    if (job.state() == state_ && job.progress().stage() == stage_ && tenth == tenth_) return;
    state_ = job.state();
    stage_ = job.progress().stage();
    tenth_ = tenth;
    std::cerr << line << "\n";
  }
  // Ends the redrawn line on a terminal.
  void Finish() const {
    if (terminal_) std::cerr << "\n";
  }

 private:
  const bool terminal_ = isatty(STDERR_FILENO);
  v1::JobState state_ = v1::JOB_STATE_UNSPECIFIED;
  v1::JobStage stage_ = v1::JOB_STAGE_UNSPECIFIED;
  int tenth_ = -1;
};

std::string Percent(double fraction) { return absl::StrFormat("%.2f%%", fraction * 100); }

// The five layers with the lowest SQNR in the job's report.
void PrintWorstLayers(const v1::Job& job) {
  const nlohmann::json report =
      nlohmann::json::parse(job.report_json(), nullptr, /*allow_exceptions=*/false);
  if (!report.is_object() || !report.contains("layers")) return;
  std::vector<std::pair<double, std::string>> layers;
  for (const auto& layer : report["layers"]) {
    if (layer.contains("sqnr_db") && layer["sqnr_db"].is_number()) {
      layers.emplace_back(layer["sqnr_db"].get<double>(),
                          absl::StrCat(layer.value("name", std::string()), " (",
                                       layer.value("op_type", std::string()), ")"));
    }
  }
  std::sort(layers.begin(), layers.end());
  if (!layers.empty()) std::cout << "  worst layers by SQNR:\n";
  for (size_t i = 0; i < layers.size() && i < 5; ++i) {
    std::cout << absl::StrFormat("    %-40s %8.1f dB\n", layers[i].second, layers[i].first);
  }
}

// Every output's figures from the job's report, when the model has several outputs or the one
// evaluated has no class per sample; then the evaluation's notes.
void PrintOutputs(const v1::Job& job) {
  const nlohmann::json report =
      nlohmann::json::parse(job.report_json(), nullptr, /*allow_exceptions=*/false);
  if (!report.is_object() || !report.contains("evaluation")) return;
  const nlohmann::json& evaluation = report["evaluation"];
  if (!evaluation.is_object() || !evaluation.contains("outputs") ||
      !evaluation["outputs"].is_array()) {
    return;
  }
  const nlohmann::json& outputs = evaluation["outputs"];
  if (outputs.size() > 1 || job.evaluation().has_top1_agreement() == false) {
    std::cout << "  outputs:\n";
    for (const auto& o : outputs) {
      if (!o.is_object()) continue;
      std::string line = absl::StrCat("    ", o.value("name", std::string()), ": ");
      if (o.contains("skipped")) {
        absl::StrAppend(&line, "not compared (", o.value("skipped", std::string()), ")");
      } else {
        absl::StrAppend(&line, absl::StrFormat("SQNR %.1f dB, cosine %.4f, max error %.4g",
                                               o.value("sqnr_db", 0.0), o.value("cosine", 0.0),
                                               o.value("max_abs_error", 0.0)));
        if (o.contains("agreement")) {
          absl::StrAppend(&line, ", ", o.value("agreement_metric", std::string()), " ",
                          Percent(o.value("agreement", 0.0)));
        }
      }
      std::cout << line << "\n";
    }
  }
  if (evaluation.contains("notes") && evaluation["notes"].is_array()) {
    for (const auto& note : evaluation["notes"]) {
      if (note.is_string()) std::cout << "  note: " << note.get<std::string>() << "\n";
    }
  }
}

// "took 4m12.3s: gptq rounding 2m30.1s, evaluate 50s, calibrate 20.4s" (report.timing's three
// longest steps).
void PrintTiming(const nlohmann::json& report) {
  if (!report.is_object() || !report.contains("timing") || !report["timing"].is_object()) return;
  const nlohmann::json& timing = report["timing"];
  // Milliseconds below a second, tenths of a second above.
  const auto seconds = [](double s) {
    return absl::FormatDuration(s < 1.0 ? absl::Milliseconds(std::round(s * 1000))
                                        : absl::Seconds(std::round(s * 10) / 10));
  };
  std::vector<std::pair<double, std::string>> steps;
  if (timing.contains("steps") && timing["steps"].is_array()) {
    for (const auto& step : timing["steps"]) {
      if (step.is_object()) {
        steps.emplace_back(step.value("seconds", 0.0), step.value("step", std::string()));
      }
    }
  }
  std::sort(steps.begin(), steps.end(), std::greater<>());
  std::string line = absl::StrCat("  took ", seconds(timing.value("seconds", 0.0)));
  for (size_t i = 0; i < steps.size() && i < 3; ++i) {
    absl::StrAppend(&line, i == 0 ? ": " : ", ", steps[i].second, " ", seconds(steps[i].first));
  }
  std::cout << line << "\n";
}

// The table `quantize --wait` ends with.
void PrintSummary(const v1::Job& job, const v1::Model& model) {
  int64_t float_size = 0, int8_size = 0;
  for (const auto& v : model.versions()) {
    if (v.version() == job.model_version()) float_size = v.size_bytes();
    if (v.version() == job.result_version()) int8_size = v.size_bytes();
  }
  const v1::EvaluationSummary& e = job.evaluation();
  std::cout << job.model() << " version " << job.result_version() << " from version "
            << job.model_version() << " (job " << job.id() << ")\n";
  const v1::QuantizationConfig& config = job.config();
  std::cout << "  made for " << (config.target_cpu() == v1::TARGET_CPU_VNNI ? "VNNI" : "AVX2")
            << " CPUs, " << config.weights().bits() << "-bit weights ("
            << config.target_cpu_reason() << ")\n";
  // Depthwise and pointwise layers' precision where it differs (report.weight_precision).
  const nlohmann::json report =
      nlohmann::json::parse(job.report_json(), nullptr, /*allow_exceptions=*/false);
  if (report.is_object() && report.contains("weight_precision")) {
    const nlohmann::json& precision = report["weight_precision"];
    const int other = precision.value("other_bits", 0);
    const int depthwise = precision.value("depthwise_bits", other);
    const int pointwise = precision.value("pointwise_bits", other);
    if (depthwise != other || pointwise != other) {
      std::cout << "  " << depthwise << "-bit depthwise and " << pointwise
                << "-bit pointwise weights"
                << (precision.contains("trials") ? " (the model needs them: job report)" : "")
                << "\n";
    }
  }
  std::cout << absl::StrFormat("  %-22s %12s %12s\n", "", "float", "quantized");
  if (e.has_float_top1()) {
    std::cout << absl::StrFormat("  %-22s %12s %12s\n", "top-1", Percent(e.float_top1()),
                                 Percent(e.quantized_top1()));
  }
  std::cout << absl::StrFormat("  %-22s %12d %12d\n", "size (bytes)", float_size, int8_size);
  if (e.samples() > 0) {
    if (e.has_top1_agreement()) {
      std::cout << absl::StrFormat("  %-22s %25s\n", "top-1 agreement",
                                   Percent(e.top1_agreement()));
    }
    std::cout << absl::StrFormat("  %-22s %22.1f dB\n", "output SQNR", e.output_sqnr_db())
              << absl::StrFormat("  %-22s %25d\n", "samples compared", e.samples());
  }
  PrintOutputs(job);
  PrintWorstLayers(job);
  PrintTiming(report);
}

struct QuantizeOptions {
  std::string model, calibration, evaluation, idempotency_key, evaluation_output;
  std::optional<int64_t> evaluation_axis;
  std::optional<float> evaluation_threshold;
  int64_t version = 0;
  std::string mode = "weights-and-activations", weight_scheme = "symmetric",
              granularity = "per-channel", rounding, activation_scheme = "asymmetric", method,
              narrow = "true", target_cpu = "auto";
  int weight_bits = 0, depthwise_bits = 0, pointwise_bits = 0, bits_where_needed = 0, batches = 0,
      batch_size = 0;
  double percentile = 0, averaging_constant = 0;
  uint64_t seed = 0;
  bool promote = false, wait = false, no_bias_correction = false, empirical_bias_correction = false;
};

void FillConfig(const QuantizeOptions& o, v1::QuantizationConfig* config) {
  config->set_mode(o.mode == "weights-only" ? v1::QUANTIZATION_MODE_WEIGHTS_ONLY
                                            : v1::QUANTIZATION_MODE_WEIGHTS_AND_ACTIVATIONS);
  v1::WeightQuantization* weights = config->mutable_weights();
  weights->set_scheme(o.weight_scheme == "asymmetric" ? v1::QUANTIZATION_SCHEME_ASYMMETRIC
                                                      : v1::QUANTIZATION_SCHEME_SYMMETRIC);
  weights->set_granularity(o.granularity == "per-tensor" ? v1::GRANULARITY_PER_TENSOR
                                                         : v1::GRANULARITY_PER_CHANNEL);
  weights->set_bits(o.weight_bits);
  weights->set_depthwise_bits(o.depthwise_bits);
  weights->set_pointwise_bits(o.pointwise_bits);
  weights->set_bits_where_needed(o.bits_where_needed);
  config->set_target_cpu(o.target_cpu == "avx2"   ? v1::TARGET_CPU_AVX2
                         : o.target_cpu == "vnni" ? v1::TARGET_CPU_VNNI
                                                  : v1::TARGET_CPU_AUTO);
  weights->set_narrow_range(o.narrow == "true");
  weights->set_rounding(o.rounding == "stochastic" ? v1::ROUNDING_STOCHASTIC
                        : o.rounding == "gptq"     ? v1::ROUNDING_GPTQ
                        : o.rounding == "nearest"  ? v1::ROUNDING_NEAREST
                                                   : v1::ROUNDING_UNSPECIFIED);
  config->mutable_activations()->set_scheme(o.activation_scheme == "symmetric"
                                                ? v1::QUANTIZATION_SCHEME_SYMMETRIC
                                                : v1::QUANTIZATION_SCHEME_ASYMMETRIC);
  static const std::map<std::string, v1::CalibrationMethod> kMethods = {
      {"min-max", v1::CALIBRATION_METHOD_MIN_MAX},
      {"moving-average", v1::CALIBRATION_METHOD_MOVING_AVERAGE_MIN_MAX},
      {"percentile", v1::CALIBRATION_METHOD_PERCENTILE},
      {"entropy", v1::CALIBRATION_METHOD_ENTROPY},
      {"mse", v1::CALIBRATION_METHOD_MSE},
      {"auto", v1::CALIBRATION_METHOD_AUTO}};
  v1::Calibration* calibration = config->mutable_calibration();
  if (!o.method.empty()) calibration->set_method(kMethods.at(o.method));
  calibration->set_percentile(o.percentile);
  calibration->set_averaging_constant(o.averaging_constant);
  calibration->set_max_batches(o.batches);
  calibration->set_batch_size(o.batch_size);
  config->set_seed(o.seed);
  if (o.no_bias_correction) config->set_bias_correction(false);
  config->set_empirical_bias_correction(o.empirical_bias_correction);
  config->set_evaluation_output(o.evaluation_output);
  if (o.evaluation_axis.has_value()) config->set_evaluation_class_axis(*o.evaluation_axis);
  if (o.evaluation_threshold.has_value()) {
    config->set_evaluation_threshold(*o.evaluation_threshold);
  }
}

int Quantize(CommandContext& context, const QuantizeOptions& o) {
  v1::CreateJobRequest request;
  request.set_model(o.model);
  request.set_model_version(o.version);
  request.set_calibration_dataset(o.calibration);
  request.set_evaluation_dataset(o.evaluation);
  request.set_promote(o.promote);
  request.set_idempotency_key(o.idempotency_key);
  FillConfig(o, request.mutable_config());
  v1::Job job = Check(context.client.CreateJob(request));
  if (o.wait) {
    if (!context.json) std::cerr << "job " << job.id() << "\n";
    ProgressPrinter progress;
    job = Check(context.client.WatchJob(job.id(), [&](const v1::Job& j) {
      if (!context.json) progress(j);
    }));
    if (!context.json) progress.Finish();
  }
  if (context.json) {
    std::cout << JobJson(job).dump(2) << "\n";
  } else if (!o.wait) {
    std::cout << "job " << job.id() << " " << StateName(job.state()) << "\n";
  } else if (job.state() == v1::JOB_STATE_SUCCEEDED) {
    PrintSummary(job, Check(context.client.GetModel(job.model())));
  } else {
    PrintJobLine(job);
  }
  return o.wait && job.state() != v1::JOB_STATE_SUCCEEDED ? 1 : 0;
}

void AddQuantizeCommand(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* quantize = app.add_subcommand("quantize", "Start a post-training quantization job");
  quantize->add_option("--model", o->model)->required();
  quantize->add_option("--version", o->version, "Default: the default version")
      ->check(CLI::PositiveNumber);
  quantize->add_option("--calibration", o->calibration, "Calibration dataset");
  quantize->add_option("--eval", o->evaluation,
                       "Evaluation dataset (default: a held-out part of the calibration data)");
  quantize->add_option("--mode", o->mode)
      ->check(CLI::IsMember({"weights-and-activations", "weights-only"}))
      ->capture_default_str();
  quantize->add_option("--weight-scheme", o->weight_scheme)
      ->check(CLI::IsMember({"symmetric", "asymmetric"}))
      ->capture_default_str();
  quantize->add_option("--weight-granularity", o->granularity)
      ->check(CLI::IsMember({"per-channel", "per-tensor"}))
      ->capture_default_str();
  // Weight precisions: 2 to 8, unset (0) when not given.
  auto bits = [&](const char* name, int* field, const char* help) {
    quantize->add_option(name, *field, help)->check(CLI::Range(2, 8));
  };
  bits("--weight-bits", &o->weight_bits,
       "2 to 8 (default: the target CPU's, 8 with VNNI, 7 without)");
  bits("--depthwise-bits", &o->depthwise_bits,
       "Depthwise convolutions' weights, 2 to 8 (default: as --weight-bits)");
  bits("--pointwise-bits", &o->pointwise_bits,
       "1x1 convolutions' (stride 1, no padding), Gemm's and MatMul's weights, 2 to 8 (default: "
       "as --weight-bits)");
  bits("--bits-where-needed", &o->bits_where_needed,
       "What depthwise and pointwise layers take instead when the job measures an output below "
       "20 dB SQNR on calibration samples, 2 to 8 (default: 8 on AVX2 without VNNI, where Octet's "
       "own kernels run them exactly at 8 bits, with default weight bits; otherwise never)");
  quantize
      ->add_option("--target-cpu", o->target_cpu,
                   "The CPU the model will be served on; auto: the server's (its default weight "
                   "bits follow: 8 with VNNI, 7 on AVX2 without, where 8 would not run in int8)")
      ->check(CLI::IsMember({"auto", "avx2", "vnni"}))
      ->capture_default_str();
  quantize->add_option("--weight-narrow-range", o->narrow, "[-127,127] for 8-bit symmetric weights")
      ->check(CLI::IsMember({"true", "false"}))
      ->capture_default_str();
  quantize
      ->add_option("--weight-rounding", o->rounding,
                   "Default: the server's (gptq: against each layer's inputs, minimising its "
                   "output error; nearest without calibration data)")
      ->check(CLI::IsMember({"nearest", "stochastic", "gptq"}));
  quantize->add_option("--activation-scheme", o->activation_scheme)
      ->check(CLI::IsMember({"symmetric", "asymmetric"}))
      ->capture_default_str();
  quantize
      ->add_option("--calibration-method", o->method,
                   "Default: the server's (auto: the best of mse, percentile and entropy on "
                   "the calibration samples)")
      ->check(CLI::IsMember({"min-max", "moving-average", "percentile", "entropy", "mse", "auto"}));
  quantize->add_option("--percentile", o->percentile,
                       "With --calibration-method percentile or auto");
  quantize->add_option("--averaging-constant", o->averaging_constant,
                       "With --calibration-method moving-average");
  quantize->add_option("--batches", o->batches, "Calibration batches at most (default 100)");
  quantize->add_option("--batch-size", o->batch_size, "Samples a batch (default 32)");
  quantize->add_option("--seed", o->seed, "Seed for stochastic rounding");
  quantize->add_flag("--no-bias-correction", o->no_bias_correction);
  quantize->add_flag("--empirical-bias-correction", o->empirical_bias_correction,
                     "Correct each layer's measured output mean shift, layer by layer");
  quantize->add_option("--evaluation-output", o->evaluation_output,
                       "Output of the summary figures (default: the first float32 one)");
  quantize->add_option("--evaluation-axis", o->evaluation_axis,
                       "Class axis of the outputs for agreement (default: from each shape)");
  quantize->add_option("--evaluation-threshold", o->evaluation_threshold,
                       "Single-channel maps agree on values above this (default 0.5)");
  quantize->add_option("--idempotency-key", o->idempotency_key,
                       "A retried command with the same key returns the first job");
  quantize->add_flag("--promote", o->promote, "Make the result the model's default version");
  quantize->add_flag("--wait", o->wait, "Show progress until the job ends, then a summary");
  table.Add(quantize, [o](CommandContext& context) { return Quantize(context, *o); });
}

struct JobOptions {
  std::string model, id, state;
};

int ListJobs(CommandContext& context, const JobOptions& o) {
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  if (!o.state.empty()) {
    v1::JobState_Parse(absl::StrCat("JOB_STATE_", absl::AsciiStrToUpper(o.state)), &state);
  }
  const std::vector<v1::Job> all = Check(context.client.ListJobs(o.model, state));
  if (context.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& j : all) out.push_back(JobJson(j));
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& j : all) PrintJobLine(j);
  }
  return 0;
}

int ShowJob(CommandContext& context, const v1::Job& job) {
  if (context.json) {
    std::cout << JobJson(job).dump(2) << "\n";
  } else {
    PrintJobLine(job);
  }
  return 0;
}

int WatchJob(CommandContext& context, const JobOptions& o) {
  ProgressPrinter progress;
  const v1::Job job = Check(context.client.WatchJob(o.id, [&](const v1::Job& j) {
    if (context.json) {
      std::cout << JobJson(j).dump() << "\n" << std::flush;
    } else {
      progress(j);
    }
  }));
  if (!context.json) {
    progress.Finish();
    PrintJobLine(job);
  }
  return job.state() == v1::JOB_STATE_SUCCEEDED ? 0 : 1;
}

}  // namespace

void AddJobCommands(CLI::App& app, CommandTable& table) {
  AddQuantizeCommand(app, table);
  auto o = std::make_shared<JobOptions>();
  CLI::App* jobs = app.add_subcommand("jobs", "Inspect and cancel quantization jobs");
  jobs->require_subcommand(1);
  jobs->fallthrough();
  CLI::App* list = jobs->add_subcommand("list", "List jobs, newest first");
  list->add_option("--model", o->model, "Only this model's jobs");
  list->add_option("--state", o->state)
      ->check(CLI::IsMember({"queued", "running", "succeeded", "failed", "cancelled"}));
  table.Add(list, [o](CommandContext& context) { return ListJobs(context, *o); });
  CLI::App* get = jobs->add_subcommand("get", "Show a job");
  get->add_option("id", o->id)->required();
  table.Add(get, [o](CommandContext& context) {
    return ShowJob(context, Check(context.client.GetJob(o->id)));
  });
  CLI::App* watch = jobs->add_subcommand("watch", "Follow a job until it ends");
  watch->add_option("id", o->id)->required();
  table.Add(watch, [o](CommandContext& context) { return WatchJob(context, *o); });
  CLI::App* cancel = jobs->add_subcommand("cancel", "Cancel a job");
  cancel->add_option("id", o->id)->required();
  table.Add(cancel, [o](CommandContext& context) {
    return ShowJob(context, Check(context.client.CancelJob(o->id)));
  });
}

}  // namespace octet::client
