// octet: the command-line client of octetd.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/octet_client.h"
#include "engine/io/npy.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace octet::client {
namespace {

// Raised by a command to end with a non-zero exit and one line on stderr.
struct CommandError {
  std::string message;
};

void CheckOk(const absl::Status& status) {
  if (!status.ok()) {
    throw CommandError{
        absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message())};
  }
}

template <typename T>
T Check(absl::StatusOr<T> value) {
  CheckOk(value.status());
  return *std::move(value);
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    throw CommandError{"cannot render the response as JSON"};
  }
  return json;
}

std::string PrecisionName(octet::v1::Precision precision) {
  switch (precision) {
    case octet::v1::PRECISION_INT8:
      return "int8";
    case octet::v1::PRECISION_WEIGHT_ONLY:
      return "weight-only";
    default:
      return "float";
  }
}

std::string Specs(const google::protobuf::RepeatedPtrField<octet::v1::TensorSpec>& specs) {
  return absl::StrJoin(specs, ", ", [](std::string* out, const octet::v1::TensorSpec& spec) {
    std::vector<std::string> dims;
    for (int i = 0; i < spec.shape_size(); ++i) {
      const std::string& dim_name = i < spec.dim_names_size() ? spec.dim_names(i) : "";
      dims.push_back(spec.shape(i) >= 0 ? absl::StrCat(spec.shape(i))
                                        : (dim_name.empty() ? "?" : dim_name));
    }
    absl::StrAppend(out, spec.name(), " ",
                    absl::AsciiStrToLower(absl::StripPrefix(
                        octet::v1::DataType_Name(spec.data_type()), "DATA_TYPE_")),
                    "[", absl::StrJoin(dims, ","), "]");
  });
}

void PrintModel(const octet::v1::Model& model) {
  std::cout << model.name() << " (default version " << model.default_version() << ")\n";
  for (const octet::v1::ModelVersion& v : model.versions()) {
    std::cout << "  version " << v.version() << (v.is_default() ? " *" : "") << "  "
              << PrecisionName(v.precision()) << "  " << v.size_bytes() << " bytes  sha256 "
              << v.sha256().substr(0, 12) << "  opset " << v.opset_version() << "\n"
              << "    inputs:  " << Specs(v.inputs()) << "\n"
              << "    outputs: " << Specs(v.outputs()) << "\n";
    if (!v.description().empty()) std::cout << "    " << v.description() << "\n";
  }
}

void PrintRuntime(const octet::v1::ModelRuntime& runtime) {
  std::cout << runtime.name() << " version " << runtime.version() << ": " << runtime.steps_size()
            << " steps, " << runtime.int8_nodes_size() << " int8 nodes, "
            << runtime.simulated_nodes_size() << " quantized patterns left in float\n";
  for (const octet::v1::RuntimeStep& step : runtime.steps()) {
    std::cout << absl::StrFormat("  %-22s %-34s %s", step.op_type(), step.implementation(),
                                 step.nodes())
              << "\n    -> " << absl::StrJoin(step.outputs(), ", ");
    if (!step.notes().empty()) std::cout << "  (" << step.notes() << ")";
    std::cout << "\n";
  }
  for (const std::string& node : runtime.simulated_nodes())
    std::cout << "  float: " << node << "\n";
}

nlohmann::json TensorJson(const std::string& name, const Tensor& t) {
  nlohmann::json data = nlohmann::json::array();
  for (int64_t i = 0; i < t.element_count(); ++i) {
    switch (t.type()) {
      case DataType::kFloat32:
        data.push_back(t.data<float>()[i]);
        break;
      case DataType::kFloat64:
        data.push_back(t.data<double>()[i]);
        break;
      case DataType::kUint8:
        data.push_back(t.data<uint8_t>()[i]);
        break;
      case DataType::kInt8:
        data.push_back(t.data<int8_t>()[i]);
        break;
      case DataType::kInt32:
        data.push_back(t.data<int32_t>()[i]);
        break;
      case DataType::kInt64:
        data.push_back(t.data<int64_t>()[i]);
        break;
      case DataType::kBool:
        data.push_back(t.data<bool>()[i]);
        break;
      case DataType::kFloat16:
        data.push_back(reinterpret_cast<const uint16_t*>(t.raw_data())[i]);
        break;
    }
  }
  return {{"name", name},
          {"datatype", std::string(DataTypeName(t.type()))},
          {"shape", t.shape()},
          {"data", std::move(data)}};
}

std::string StateName(octet::v1::JobState state) {
  return std::string(absl::StripPrefix(octet::v1::JobState_Name(state), "JOB_STATE_"));
}

std::string StageName(octet::v1::JobStage stage) {
  return absl::AsciiStrToLower(absl::StripPrefix(octet::v1::JobStage_Name(stage), "JOB_STAGE_"));
}

// The job as one JSON object: the message's fields, the state by its short name, versions as
// numbers, and the stored report.json as an object under "report" (null until SUCCEEDED).
nlohmann::json JobJson(const octet::v1::Job& job) {
  octet::v1::Job without_report = job;
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

void PrintDataset(const octet::v1::Dataset& d) {
  std::cout << d.name() << "  "
            << absl::AsciiStrToLower(
                   absl::StripPrefix(octet::v1::DatasetFormat_Name(d.format()), "DATASET_FORMAT_"))
            << "  " << d.sample_count() << " samples  " << d.size_bytes() << " bytes  sha256 "
            << d.sha256().substr(0, 12) << (d.has_labels() ? "  labelled" : "") << "\n";
  for (const octet::v1::ArraySpec& a : d.arrays()) {
    std::cout << "    " << (a.name().empty() ? "<unnamed>" : a.name()) << " "
              << absl::AsciiStrToLower(
                     absl::StripPrefix(octet::v1::DataType_Name(a.data_type()), "DATA_TYPE_"))
              << "[" << absl::StrJoin(a.shape(), ",") << "]\n";
  }
  if (!d.description().empty()) std::cout << "    " << d.description() << "\n";
}

void PrintJobLine(const octet::v1::Job& job) {
  std::cout << job.id() << "  " << StateName(job.state()) << "  " << job.model() << " v"
            << job.model_version();
  if (job.result_version() > 0) std::cout << " -> v" << job.result_version();
  if (job.state() == octet::v1::JOB_STATE_RUNNING) {
    std::cout << "  " << StageName(job.progress().stage()) << " "
              << static_cast<int>(std::lround(job.progress().fraction() * 100)) << "%";
  }
  if (!job.error().empty()) std::cout << "  " << job.error();
  std::cout << "\n";
}

// One line on stderr, redrawn in place on a terminal: [#####.....]  42%  calibrate  batch 3/10.
void DrawProgress(const octet::v1::Job& job) {
  const double fraction = std::clamp(job.progress().fraction(), 0.0, 1.0);
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '.');
  std::string line = absl::StrCat("[", bar, "] ", static_cast<int>(std::lround(fraction * 100)),
                                  "%  ", StateName(job.state()));
  if (job.state() == octet::v1::JOB_STATE_RUNNING) {
    absl::StrAppend(&line, "  ", StageName(job.progress().stage()));
    if (job.progress().batches_total() > 0) {
      absl::StrAppend(&line, "  batch ", job.progress().batches_done(), "/",
                      job.progress().batches_total());
    }
  }
  if (isatty(STDERR_FILENO)) {
    std::cerr << "\r" << line << "\x1b[K" << std::flush;
  } else {
    std::cerr << line << "\n";
  }
}

std::string Percent(double fraction) { return absl::StrFormat("%.2f%%", fraction * 100); }

// The table `quantize --wait` ends with.
void PrintSummary(const octet::v1::Job& job, const octet::v1::Model& model) {
  int64_t float_size = 0, int8_size = 0;
  for (const auto& v : model.versions()) {
    if (v.version() == job.model_version()) float_size = v.size_bytes();
    if (v.version() == job.result_version()) int8_size = v.size_bytes();
  }
  const octet::v1::EvaluationSummary& e = job.evaluation();
  std::cout << job.model() << " version " << job.result_version() << " from version "
            << job.model_version() << " (job " << job.id() << ")\n";
  std::cout << absl::StrFormat("  %-22s %12s %12s\n", "", "float", "quantized");
  if (e.samples() > 0) {
    std::cout << absl::StrFormat("  %-22s %12s %12s\n", "top-1", Percent(e.float_top1()),
                                 Percent(e.quantized_top1()));
  }
  std::cout << absl::StrFormat("  %-22s %12d %12d\n", "size (bytes)", float_size, int8_size);
  if (e.samples() > 0) {
    std::cout << absl::StrFormat("  %-22s %25s\n", "top-1 agreement", Percent(e.top1_agreement()))
              << absl::StrFormat("  %-22s %22.1f dB\n", "output SQNR", e.output_sqnr_db())
              << absl::StrFormat("  %-22s %25d\n", "samples compared", e.samples());
  }
  const nlohmann::json report =
      nlohmann::json::parse(job.report_json(), nullptr, /*allow_exceptions=*/false);
  if (report.is_object() && report.contains("layers")) {
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
}

// "NAME=PATH" or "PATH".
std::pair<std::string, std::string> SplitNamed(const std::string& arg) {
  const size_t eq = arg.find('=');
  if (eq == std::string::npos) return {"", arg};
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"octet: upload, quantize and serve models on an octetd server"};
  app.require_subcommand(1);
  app.fallthrough();
  std::string server = "127.0.0.1:8500";
  app.add_option("--server", server, "octetd address, HOST:PORT")->envname("OCTET_SERVER");
  bool json = false;
  app.add_flag("--json", json, "Print the result as JSON");

  CLI::App* health = app.add_subcommand("health", "Check that the server is serving");

  CLI::App* models = app.add_subcommand("models", "Manage models and their versions");
  models->require_subcommand(1);
  models->fallthrough();
  std::string file, name, description, output;
  int64_t version = 0;
  bool new_version = false;
  CLI::App* upload = models->add_subcommand("upload", "Upload an ONNX model");
  upload->add_option("file", file, "ONNX file")->required();
  upload->add_option("--name", name, "Model name")->required();
  upload->add_option("--description", description, "Free text kept with the version");
  upload->add_flag("--new-version", new_version, "Add new bytes as the name's next version");
  CLI::App* list = models->add_subcommand("list", "List models");
  CLI::App* get = models->add_subcommand("get", "Show a model's versions");
  get->add_option("name", name)->required();
  CLI::App* remove = models->add_subcommand("delete", "Delete a model, or one version");
  remove->add_option("name", name)->required();
  remove->add_option("--version", version, "Only this version")->check(CLI::PositiveNumber);
  CLI::App* set_default = models->add_subcommand("set-default", "Choose the default version");
  set_default->add_option("name", name)->required();
  set_default->add_option("--version", version)->required()->check(CLI::PositiveNumber);
  CLI::App* describe = models->add_subcommand("describe",
                                              "Show how the server runs a version: step by step, "
                                              "what runs in int8 and what stays in float, and why");
  describe->add_option("name", name)->required();
  describe->add_option("--version", version, "Default: the default version")
      ->check(CLI::PositiveNumber);
  int64_t describe_batch = 1;
  std::vector<std::string> shape_args;
  describe->add_option("--batch", describe_batch, "Fills a dynamic first dimension")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  describe->add_option("--shape", shape_args, "NAME=D,D,... for an input with other dynamic dims");
  CLI::App* download = models->add_subcommand("download", "Download a version's ONNX file");
  download->add_option("name", name)->required();
  download->add_option("--version", version, "Default: the default version")
      ->check(CLI::PositiveNumber);
  download->add_option("--output", output, "Where to write the file")->required();

  CLI::App* infer = app.add_subcommand("infer", "Run a model on .npy inputs");
  std::vector<std::string> input_args, output_args, output_names;
  infer->add_option("--model", name)->required();
  infer->add_option("--version", version, "Default: the default version")
      ->check(CLI::PositiveNumber);
  infer->add_option("--input", input_args, "[NAME=]X.npy, once per input")->required();
  infer->add_option("--output", output_args,
                    "[NAME=]Y.npy: write that output (unnamed: the first) to a file");
  infer->add_option("--output-name", output_names, "Only these outputs");

  CLI::App* datasets = app.add_subcommand("datasets", "Manage calibration and evaluation datasets");
  datasets->require_subcommand(1);
  datasets->fallthrough();
  CLI::App* dataset_upload =
      datasets->add_subcommand("upload", "Upload a .npy or .npz file (arrays named after inputs)");
  dataset_upload->add_option("file", file, ".npy or .npz file")->required();
  dataset_upload->add_option("--name", name, "Dataset name")->required();
  dataset_upload->add_option("--description", description, "Free text kept with the dataset");
  CLI::App* dataset_list = datasets->add_subcommand("list", "List datasets");
  CLI::App* dataset_get = datasets->add_subcommand("get", "Show a dataset");
  dataset_get->add_option("name", name)->required();
  CLI::App* dataset_delete = datasets->add_subcommand("delete", "Delete a dataset");
  dataset_delete->add_option("name", name)->required();

  CLI::App* quantize = app.add_subcommand("quantize", "Start a post-training quantization job");
  std::string calibration, evaluation, idempotency_key, evaluation_output;
  std::string mode = "weights-and-activations", weight_scheme = "symmetric",
              granularity = "per-channel", rounding, activation_scheme = "asymmetric", method,
              narrow = "true";
  int weight_bits = 8, batches = 0, batch_size = 0;
  double percentile = 0, averaging_constant = 0;
  uint64_t seed = 0;
  bool promote = false, wait = false, no_bias_correction = false, empirical_bias_correction = false;
  quantize->add_option("--model", name)->required();
  quantize->add_option("--version", version, "Default: the default version")
      ->check(CLI::PositiveNumber);
  quantize->add_option("--calibration", calibration, "Calibration dataset");
  quantize->add_option("--eval", evaluation,
                       "Evaluation dataset (default: a held-out part of the calibration data)");
  quantize->add_option("--mode", mode)
      ->check(CLI::IsMember({"weights-and-activations", "weights-only"}))
      ->capture_default_str();
  quantize->add_option("--weight-scheme", weight_scheme)
      ->check(CLI::IsMember({"symmetric", "asymmetric"}))
      ->capture_default_str();
  quantize->add_option("--weight-granularity", granularity)
      ->check(CLI::IsMember({"per-channel", "per-tensor"}))
      ->capture_default_str();
  quantize
      ->add_option("--weight-bits", weight_bits,
                   "2 to 8; 7 runs exactly on int8 kernels of CPUs without VNNI")
      ->check(CLI::Range(2, 8))
      ->capture_default_str();
  quantize->add_option("--weight-narrow-range", narrow, "[-127,127] for 8-bit symmetric weights")
      ->check(CLI::IsMember({"true", "false"}))
      ->capture_default_str();
  quantize
      ->add_option("--weight-rounding", rounding,
                   "Default: the server's (gptq: against each layer's inputs, minimising its "
                   "output error; nearest without calibration data)")
      ->check(CLI::IsMember({"nearest", "stochastic", "gptq"}));
  quantize->add_option("--activation-scheme", activation_scheme)
      ->check(CLI::IsMember({"symmetric", "asymmetric"}))
      ->capture_default_str();
  quantize->add_option("--calibration-method", method, "Default: the server's (mse)")
      ->check(CLI::IsMember({"min-max", "moving-average", "percentile", "entropy", "mse"}));
  quantize->add_option("--percentile", percentile, "With --calibration-method percentile");
  quantize->add_option("--averaging-constant", averaging_constant,
                       "With --calibration-method moving-average");
  quantize->add_option("--batches", batches, "Calibration batches at most (default 100)");
  quantize->add_option("--batch-size", batch_size, "Samples a batch (default 32)");
  quantize->add_option("--seed", seed, "Seed for stochastic rounding");
  quantize->add_flag("--no-bias-correction", no_bias_correction);
  quantize->add_flag("--empirical-bias-correction", empirical_bias_correction,
                     "Correct each layer's measured output mean shift, layer by layer");
  quantize->add_option("--evaluation-output", evaluation_output,
                       "Output compared for top-1 (default: the first)");
  quantize->add_option("--idempotency-key", idempotency_key,
                       "A retried command with the same key returns the first job");
  quantize->add_flag("--promote", promote, "Make the result the model's default version");
  quantize->add_flag("--wait", wait, "Show progress until the job ends, then a summary");

  CLI::App* jobs = app.add_subcommand("jobs", "Inspect and cancel quantization jobs");
  jobs->require_subcommand(1);
  jobs->fallthrough();
  std::string job_id, state_filter;
  CLI::App* jobs_list = jobs->add_subcommand("list", "List jobs, newest first");
  jobs_list->add_option("--model", name, "Only this model's jobs");
  jobs_list->add_option("--state", state_filter)
      ->check(CLI::IsMember({"queued", "running", "succeeded", "failed", "cancelled"}));
  CLI::App* jobs_get = jobs->add_subcommand("get", "Show a job");
  jobs_get->add_option("id", job_id)->required();
  CLI::App* jobs_watch = jobs->add_subcommand("watch", "Follow a job until it ends");
  jobs_watch->add_option("id", job_id)->required();
  CLI::App* jobs_cancel = jobs->add_subcommand("cancel", "Cancel a job");
  jobs_cancel->add_option("id", job_id)->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    OctetClient client(server);
    if (health->parsed()) {
      const std::string status = Check(client.Health());
      const inference::ServerMetadataResponse metadata = Check(client.ServerMetadata());
      if (json) {
        std::cout << nlohmann::json{{"status", status},
                                    {"name", metadata.name()},
                                    {"version", metadata.version()},
                                    {"server", server}}
                         .dump(2)
                  << "\n";
      } else {
        std::cout << status << ": " << metadata.name() << " " << metadata.version() << " at "
                  << server << "\n";
      }
      return status == "SERVING" ? 0 : 1;
    }
    if (upload->parsed()) {
      const auto response = Check(client.UploadModel(file, name, description, new_version));
      if (json) {
        std::cout << ToJson(response);
      } else {
        const auto& v = response.version();
        std::cout << (response.created() ? "uploaded " : "already stored as ") << v.name()
                  << " version " << v.version() << " (" << v.size_bytes() << " bytes, sha256 "
                  << v.sha256().substr(0, 12) << ")\n";
      }
    } else if (list->parsed()) {
      const std::vector<octet::v1::Model> all = Check(client.ListModels());
      if (json) {
        octet::v1::ListModelsResponse response;
        for (const auto& m : all) *response.add_models() = m;
        std::cout << ToJson(response);
      } else {
        for (const auto& m : all) {
          const auto& versions = m.versions();
          std::cout << m.name() << "  default " << m.default_version() << "  versions "
                    << absl::StrJoin(versions, ",",
                                     [](std::string* out, const auto& v) {
                                       absl::StrAppend(out, v.version());
                                     })
                    << "\n";
        }
      }
    } else if (get->parsed()) {
      const octet::v1::Model model = Check(client.GetModel(name));
      if (json) {
        std::cout << ToJson(model);
      } else {
        PrintModel(model);
      }
    } else if (remove->parsed()) {
      const std::vector<int64_t> deleted = Check(client.DeleteModel(name, version));
      std::cout << "deleted " << name << " versions " << absl::StrJoin(deleted, ", ") << "\n";
    } else if (set_default->parsed()) {
      const octet::v1::Model model = Check(client.SetDefaultVersion(name, version));
      std::cout << model.name() << " default version is now " << model.default_version() << "\n";
    } else if (describe->parsed()) {
      std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
      for (const std::string& arg : shape_args) {
        const size_t eq = arg.find('=');
        std::vector<int64_t> dims;
        bool ok = eq != std::string::npos && eq > 0;
        for (absl::string_view d : absl::StrSplit(ok ? arg.substr(eq + 1) : "", ',')) {
          int64_t value = 0;
          ok = ok && absl::SimpleAtoi(d, &value);
          dims.push_back(value);
        }
        if (!ok) {
          std::cerr << "octet: --shape " << arg << ": expected NAME=D,D,...\n";
          return 2;
        }
        shapes.emplace_back(arg.substr(0, eq), dims);
      }
      const octet::v1::ModelRuntime runtime =
          Check(client.DescribeRuntime(name, version, describe_batch, shapes));
      if (json) {
        std::cout << ToJson(runtime);
      } else {
        PrintRuntime(runtime);
      }
    } else if (download->parsed()) {
      const octet::v1::ModelVersion v = Check(client.DownloadModel(name, version, output));
      std::cout << "wrote " << v.name() << " version " << v.version() << " to " << output << " ("
                << v.size_bytes() << " bytes)\n";
    } else if (infer->parsed()) {
      std::vector<std::pair<std::string, Tensor>> inputs;
      for (const std::string& arg : input_args) {
        auto [input_name, path] = SplitNamed(arg);
        Tensor tensor = Check(ReadNpyFile(path));
        if (input_name.empty()) {
          if (input_args.size() != 1) {
            throw CommandError{"name every --input (NAME=X.npy) when there are several"};
          }
          const auto metadata = Check(client.ModelMetadata(name, version));
          if (metadata.inputs_size() != 1) {
            throw CommandError{absl::StrCat("model '", name, "' has ", metadata.inputs_size(),
                                            " inputs; name them with NAME=X.npy")};
          }
          input_name = metadata.inputs(0).name();
        }
        inputs.emplace_back(input_name, std::move(tensor));
      }
      const InferResult result = Check(client.Infer(name, version, inputs, output_names));
      for (const std::string& arg : output_args) {
        auto [output_name, path] = SplitNamed(arg);
        const Tensor* tensor = nullptr;
        for (const auto& [n, t] : result.outputs) {
          if (output_name.empty() ? tensor == nullptr : n == output_name) tensor = &t;
        }
        if (tensor == nullptr) {
          throw CommandError{absl::StrCat("the response has no output '", output_name, "'")};
        }
        CheckOk(WriteNpyFile(path, *tensor));
      }
      if (json) {
        nlohmann::json out = {{"model_name", result.model_name},
                              {"model_version", result.model_version},
                              {"outputs", nlohmann::json::array()}};
        for (const auto& [n, t] : result.outputs) out["outputs"].push_back(TensorJson(n, t));
        std::cout << out.dump(2) << "\n";
      } else if (output_args.empty()) {
        for (const auto& [n, t] : result.outputs) {
          nlohmann::json j = TensorJson(n, t);
          std::cout << n << " " << DataTypeName(t.type()) << " " << ShapeToString(t.shape()) << ": "
                    << j["data"].dump() << "\n";
        }
      }
    }
    if (dataset_upload->parsed()) {
      const octet::v1::Dataset d = Check(client.UploadDataset(file, name, description));
      if (json) {
        std::cout << ToJson(d);
      } else {
        std::cout << "uploaded dataset ";
        PrintDataset(d);
      }
    } else if (dataset_list->parsed()) {
      const std::vector<octet::v1::Dataset> all = Check(client.ListDatasets());
      if (json) {
        octet::v1::ListDatasetsResponse response;
        for (const auto& d : all) *response.add_datasets() = d;
        std::cout << ToJson(response);
      } else {
        for (const auto& d : all) PrintDataset(d);
      }
    } else if (dataset_get->parsed()) {
      const octet::v1::Dataset d = Check(client.GetDataset(name));
      if (json) {
        std::cout << ToJson(d);
      } else {
        PrintDataset(d);
      }
    } else if (dataset_delete->parsed()) {
      CheckOk(client.DeleteDataset(name));
      std::cout << "deleted dataset " << name << "\n";
    } else if (quantize->parsed()) {
      namespace v1 = octet::v1;
      v1::CreateJobRequest request;
      request.set_model(name);
      request.set_model_version(version);
      request.set_calibration_dataset(calibration);
      request.set_evaluation_dataset(evaluation);
      request.set_promote(promote);
      request.set_idempotency_key(idempotency_key);
      v1::QuantizationConfig* config = request.mutable_config();
      config->set_mode(mode == "weights-only" ? v1::QUANTIZATION_MODE_WEIGHTS_ONLY
                                              : v1::QUANTIZATION_MODE_WEIGHTS_AND_ACTIVATIONS);
      config->mutable_weights()->set_scheme(weight_scheme == "asymmetric"
                                                ? v1::QUANTIZATION_SCHEME_ASYMMETRIC
                                                : v1::QUANTIZATION_SCHEME_SYMMETRIC);
      config->mutable_weights()->set_granularity(
          granularity == "per-tensor" ? v1::GRANULARITY_PER_TENSOR : v1::GRANULARITY_PER_CHANNEL);
      config->mutable_weights()->set_bits(weight_bits);
      config->mutable_weights()->set_narrow_range(narrow == "true");
      config->mutable_weights()->set_rounding(rounding == "stochastic" ? v1::ROUNDING_STOCHASTIC
                                              : rounding == "gptq"     ? v1::ROUNDING_GPTQ
                                              : rounding == "nearest"  ? v1::ROUNDING_NEAREST
                                                                       : v1::ROUNDING_UNSPECIFIED);
      config->mutable_activations()->set_scheme(activation_scheme == "symmetric"
                                                    ? v1::QUANTIZATION_SCHEME_SYMMETRIC
                                                    : v1::QUANTIZATION_SCHEME_ASYMMETRIC);
      static const std::map<std::string, v1::CalibrationMethod> kMethods = {
          {"min-max", v1::CALIBRATION_METHOD_MIN_MAX},
          {"moving-average", v1::CALIBRATION_METHOD_MOVING_AVERAGE_MIN_MAX},
          {"percentile", v1::CALIBRATION_METHOD_PERCENTILE},
          {"entropy", v1::CALIBRATION_METHOD_ENTROPY},
          {"mse", v1::CALIBRATION_METHOD_MSE}};
      if (!method.empty()) config->mutable_calibration()->set_method(kMethods.at(method));
      config->mutable_calibration()->set_percentile(percentile);
      config->mutable_calibration()->set_averaging_constant(averaging_constant);
      config->mutable_calibration()->set_max_batches(batches);
      config->mutable_calibration()->set_batch_size(batch_size);
      config->set_seed(seed);
      if (no_bias_correction) config->set_bias_correction(false);
      config->set_empirical_bias_correction(empirical_bias_correction);
      config->set_evaluation_output(evaluation_output);
      v1::Job job = Check(client.CreateJob(request));
      if (wait) {
        if (!json) std::cerr << "job " << job.id() << "\n";
        job = Check(client.WatchJob(job.id(), [&](const v1::Job& j) {
          if (!json) DrawProgress(j);
        }));
        if (!json && isatty(STDERR_FILENO)) std::cerr << "\n";
      }
      if (json) {
        std::cout << JobJson(job).dump(2) << "\n";
      } else if (!wait) {
        std::cout << "job " << job.id() << " " << StateName(job.state()) << "\n";
      } else if (job.state() == v1::JOB_STATE_SUCCEEDED) {
        PrintSummary(job, Check(client.GetModel(job.model())));
      } else {
        PrintJobLine(job);
      }
      if (wait && job.state() != v1::JOB_STATE_SUCCEEDED) return 1;
    } else if (jobs_list->parsed()) {
      octet::v1::JobState state = octet::v1::JOB_STATE_UNSPECIFIED;
      if (!state_filter.empty()) {
        octet::v1::JobState_Parse(absl::StrCat("JOB_STATE_", absl::AsciiStrToUpper(state_filter)),
                                  &state);
      }
      const std::vector<octet::v1::Job> all = Check(client.ListJobs(name, state));
      if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& j : all) out.push_back(JobJson(j));
        std::cout << out.dump(2) << "\n";
      } else {
        for (const auto& j : all) PrintJobLine(j);
      }
    } else if (jobs_get->parsed() || jobs_cancel->parsed()) {
      const octet::v1::Job job =
          Check(jobs_get->parsed() ? client.GetJob(job_id) : client.CancelJob(job_id));
      if (json) {
        std::cout << JobJson(job).dump(2) << "\n";
      } else {
        PrintJobLine(job);
      }
    } else if (jobs_watch->parsed()) {
      const octet::v1::Job job = Check(client.WatchJob(job_id, [&](const octet::v1::Job& j) {
        if (json) {
          std::cout << JobJson(j).dump() << "\n" << std::flush;
        } else {
          DrawProgress(j);
        }
      }));
      if (!json) {
        if (isatty(STDERR_FILENO)) std::cerr << "\n";
        PrintJobLine(job);
      }
      return job.state() == octet::v1::JOB_STATE_SUCCEEDED ? 0 : 1;
    }
  } catch (const CommandError& e) {
    std::cerr << "octet: " << e.message << "\n";
    return 1;
  }
  return 0;
}

}  // namespace octet::client

int main(int argc, char** argv) { return octet::client::Main(argc, argv); }
