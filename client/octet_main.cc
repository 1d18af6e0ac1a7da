// octet: the command-line client of octetd.
#include <cstdlib>
#include <iostream>
#include <map>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
    case octet::v1::PRECISION_INT8: return "int8";
    case octet::v1::PRECISION_WEIGHT_ONLY: return "weight-only";
    default: return "float";
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

nlohmann::json TensorJson(const std::string& name, const Tensor& t) {
  nlohmann::json data = nlohmann::json::array();
  for (int64_t i = 0; i < t.element_count(); ++i) {
    switch (t.type()) {
      case DataType::kFloat32: data.push_back(t.data<float>()[i]); break;
      case DataType::kFloat64: data.push_back(t.data<double>()[i]); break;
      case DataType::kUint8: data.push_back(t.data<uint8_t>()[i]); break;
      case DataType::kInt8: data.push_back(t.data<int8_t>()[i]); break;
      case DataType::kInt32: data.push_back(t.data<int32_t>()[i]); break;
      case DataType::kInt64: data.push_back(t.data<int64_t>()[i]); break;
      case DataType::kBool: data.push_back(t.data<bool>()[i]); break;
      case DataType::kFloat16: data.push_back(reinterpret_cast<const uint16_t*>(t.raw_data())[i]); break;
    }
  }
  return {{"name", name}, {"datatype", std::string(DataTypeName(t.type()))},
          {"shape", t.shape()}, {"data", std::move(data)}};
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
        std::cout << nlohmann::json{{"status", status}, {"name", metadata.name()},
                                    {"version", metadata.version()}, {"server", server}}
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
                    << absl::StrJoin(versions, ",", [](std::string* out, const auto& v) {
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
          std::cout << n << " " << DataTypeName(t.type()) << " " << ShapeToString(t.shape())
                    << ": " << j["data"].dump() << "\n";
        }
      }
    }
  } catch (const CommandError& e) {
    std::cerr << "octet: " << e.message << "\n";
    return 1;
  }
  return 0;
}

}  // namespace octet::client

int main(int argc, char** argv) { return octet::client::Main(argc, argv); }
