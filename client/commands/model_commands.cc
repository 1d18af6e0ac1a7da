// octet models upload | list | get | delete | serving | set-default | describe | download
// (compare: compare_command.cc; drift: drift_command.cc).
#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/commands/command.h"

namespace octet::client {
namespace {

// One set of option values for the group: one subcommand is parsed per run.
struct ModelOptions {
  std::string file, name, description, output;
  int64_t version = 0;
  bool new_version = false;
  int64_t batch = 1;
  std::vector<std::string> shapes;
  std::optional<int> max_batch_size;
  std::optional<int64_t> max_queue_delay_us;
  std::optional<double> drift_sample_rate;
  bool reset = false;
};

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

// "max_batch_size 8 (its own), max_queue_delay_us: the server's".
std::string ServingText(const octet::v1::ServingConfig& serving) {
  return absl::StrCat(
      "max_batch_size ",
      serving.has_max_batch_size() ? absl::StrCat(serving.max_batch_size()) : "the server's",
      ", max_queue_delay_us ",
      serving.has_max_queue_delay_us() ? absl::StrCat(serving.max_queue_delay_us())
                                       : "the server's",
      ", drift_sample_rate ",
      serving.has_drift_sample_rate() ? absl::StrCat(serving.drift_sample_rate()) : "the server's");
}

void PrintModel(const octet::v1::Model& model) {
  std::cout << model.name() << " (default version " << model.default_version() << ")\n"
            << "  serving: " << ServingText(model.serving()) << "\n";
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
            << runtime.simulated_nodes_size() << " quantized patterns left in float\n"
            << "  this server's CPU: " << runtime.cpu() << "\n";
  if (!runtime.description().empty()) std::cout << "  " << runtime.description() << "\n";
  for (const octet::v1::RuntimeStep& step : runtime.steps()) {
    std::cout << absl::StrFormat("  %-22s %-34s %s", step.op_type(), step.implementation(),
                                 step.nodes())
              << "\n    -> " << absl::StrJoin(step.outputs(), ", ");
    if (!step.notes().empty()) std::cout << "  (" << step.notes() << ")";
    std::cout << "\n";
  }
  for (const std::string& node : runtime.simulated_nodes()) {
    std::cout << "  float: " << node << "\n";
  }
}

int Upload(CommandContext& context, const ModelOptions& o) {
  const auto response =
      Check(context.client.UploadModel(o.file, o.name, o.description, o.new_version));
  if (context.json) {
    std::cout << ToJson(response);
  } else {
    const auto& v = response.version();
    std::cout << (response.created() ? "uploaded " : "already stored as ") << v.name()
              << " version " << v.version() << " (" << v.size_bytes() << " bytes, sha256 "
              << v.sha256().substr(0, 12) << ")\n";
  }
  return 0;
}

int List(CommandContext& context) {
  const std::vector<octet::v1::Model> all = Check(context.client.ListModels());
  if (context.json) {
    octet::v1::ListModelsResponse response;
    for (const auto& m : all) *response.add_models() = m;
    std::cout << ToJson(response);
    return 0;
  }
  for (const auto& m : all) {
    std::cout << m.name() << "  default " << m.default_version() << "  versions "
              << absl::StrJoin(
                     m.versions(), ",",
                     [](std::string* out, const auto& v) { absl::StrAppend(out, v.version()); })
              << "\n";
  }
  return 0;
}

int Get(CommandContext& context, const ModelOptions& o) {
  const octet::v1::Model model = Check(context.client.GetModel(o.name));
  if (context.json) {
    std::cout << ToJson(model);
  } else {
    PrintModel(model);
  }
  return 0;
}

int Delete(CommandContext& context, const ModelOptions& o) {
  const std::vector<int64_t> deleted = Check(context.client.DeleteModel(o.name, o.version));
  std::cout << "deleted " << o.name << " versions " << absl::StrJoin(deleted, ", ") << "\n";
  return 0;
}

int SetDefault(CommandContext& context, const ModelOptions& o) {
  const octet::v1::Model model = Check(context.client.SetDefaultVersion(o.name, o.version));
  std::cout << model.name() << " default version is now " << model.default_version() << "\n";
  return 0;
}

// Changes only what is given; --reset returns to the server's flags first.
int Serving(CommandContext& context, const ModelOptions& o) {
  octet::v1::ServingConfig config;
  if (!o.reset) config = Check(context.client.GetModel(o.name)).serving();
  if (o.max_batch_size.has_value()) config.set_max_batch_size(*o.max_batch_size);
  if (o.max_queue_delay_us.has_value()) config.set_max_queue_delay_us(*o.max_queue_delay_us);
  if (o.drift_sample_rate.has_value()) config.set_drift_sample_rate(*o.drift_sample_rate);
  const octet::v1::Model model = Check(context.client.SetServingConfig(o.name, config));
  if (context.json) {
    std::cout << ToJson(model.serving());
  } else {
    std::cout << model.name() << " serving: " << ServingText(model.serving()) << "\n";
  }
  return 0;
}

int Describe(CommandContext& context, const ModelOptions& o) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (const std::string& arg : o.shapes) {
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
      Check(context.client.DescribeRuntime(o.name, o.version, o.batch, shapes));
  if (context.json) {
    std::cout << ToJson(runtime);
  } else {
    PrintRuntime(runtime);
  }
  return 0;
}

int Download(CommandContext& context, const ModelOptions& o) {
  const octet::v1::ModelVersion v =
      Check(context.client.DownloadModel(o.name, o.version, o.output));
  std::cout << "wrote " << v.name() << " version " << v.version() << " to " << o.output << " ("
            << v.size_bytes() << " bytes)\n";
  return 0;
}

}  // namespace

void AddModelCommands(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<ModelOptions>();
  auto run = [o](int (*command)(CommandContext&, const ModelOptions&)) {
    return [o, command](CommandContext& context) { return command(context, *o); };
  };
  CLI::App* models = app.add_subcommand("models", "Manage models and their versions");
  models->require_subcommand(1);
  models->fallthrough();
  AddCompareCommand(*models, table);
  AddDriftCommand(*models, table);

  CLI::App* upload = models->add_subcommand("upload", "Upload an ONNX model");
  upload->add_option("file", o->file, "ONNX file")->required();
  upload->add_option("--name", o->name, "Model name")->required();
  upload->add_option("--description", o->description, "Free text kept with the version");
  upload->add_flag("--new-version", o->new_version, "Add new bytes as the name's next version");
  table.Add(upload, run(Upload));

  table.Add(models->add_subcommand("list", "List models"), List);

  CLI::App* get = models->add_subcommand("get", "Show a model's versions");
  get->add_option("name", o->name)->required();
  table.Add(get, run(Get));

  CLI::App* remove = models->add_subcommand("delete", "Delete a model, or one version");
  remove->add_option("name", o->name)->required();
  remove->add_option("--version", o->version, "Only this version")->check(CLI::PositiveNumber);
  table.Add(remove, run(Delete));

  CLI::App* serving = models->add_subcommand(
      "serving",
      "Set how the server batches and monitors the model's requests (unset: the server's flags)");
  serving->add_option("name", o->name)->required();
  serving->add_option("--max-batch-size", o->max_batch_size, "Rows per batch; 1: no batching")
      ->check(CLI::Range(1, 4096));
  serving->add_option("--max-queue-delay-us", o->max_queue_delay_us,
                      "How long a partial batch may wait for more requests");
  serving
      ->add_option("--drift-sample-rate", o->drift_sample_rate,
                   "Share of requests to quantized versions also run on the float version "
                   "(drift monitoring)")
      ->check(CLI::Range(0.0, 1.0));
  serving->add_flag("--reset", o->reset, "Forget the model's own settings first");
  table.Add(serving, run(Serving));

  CLI::App* set_default = models->add_subcommand("set-default", "Choose the default version");
  set_default->add_option("name", o->name)->required();
  set_default->add_option("--version", o->version)->required()->check(CLI::PositiveNumber);
  table.Add(set_default, run(SetDefault));

  CLI::App* describe = models->add_subcommand("describe",
                                              "Show how the server runs a version: step by step, "
                                              "what runs in int8 and what stays in float, and why");
  describe->add_option("name", o->name)->required();
  describe->add_option("--version", o->version, "Default: the default version")
      ->check(CLI::PositiveNumber);
  describe->add_option("--batch", o->batch, "Fills a dynamic first dimension")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  describe->add_option("--shape", o->shapes, "NAME=D,D,... for an input with other dynamic dims");
  table.Add(describe, run(Describe));

  CLI::App* download = models->add_subcommand("download", "Download a version's ONNX file");
  download->add_option("name", o->name)->required();
  download->add_option("--version", o->version, "Default: the default version")
      ->check(CLI::PositiveNumber);
  download->add_option("--output", o->output, "Where to write the file")->required();
  table.Add(download, run(Download));
}

}  // namespace octet::client
