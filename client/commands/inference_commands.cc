// octet health; octet infer.
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "client/commands/command.h"
#include "engine/io/npy.h"
#include "nlohmann/json.hpp"

namespace octet::client {
namespace {

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

// "NAME=PATH" or "PATH".
std::pair<std::string, std::string> SplitNamed(const std::string& arg) {
  const size_t eq = arg.find('=');
  if (eq == std::string::npos) return {"", arg};
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

int Health(CommandContext& context) {
  const std::string status = Check(context.client.Health());
  const inference::ServerMetadataResponse metadata = Check(context.client.ServerMetadata());
  if (context.json) {
    std::cout << nlohmann::json{{"status", status},
                                {"name", metadata.name()},
                                {"version", metadata.version()},
                                {"server", context.server}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << status << ": " << metadata.name() << " " << metadata.version() << " at "
              << context.server << "\n";
  }
  return status == "SERVING" ? 0 : 1;
}

struct InferOptions {
  std::string model;
  int64_t version = 0;
  std::vector<std::string> inputs, outputs, output_names;
};

// The inputs as the request sends them: an unnamed one takes the single input's name.
std::vector<std::pair<std::string, Tensor>> ReadInputs(CommandContext& context,
                                                       const InferOptions& options) {
  std::vector<std::pair<std::string, Tensor>> inputs;
  for (const std::string& arg : options.inputs) {
    auto [input_name, path] = SplitNamed(arg);
    Tensor tensor = Check(ReadNpyFile(path));
    if (input_name.empty()) {
      if (options.inputs.size() != 1) {
        throw CommandError{"name every --input (NAME=X.npy) when there are several"};
      }
      const auto metadata = Check(context.client.ModelMetadata(options.model, options.version));
      if (metadata.inputs_size() != 1) {
        throw CommandError{absl::StrCat("model '", options.model, "' has ", metadata.inputs_size(),
                                        " inputs; name them with NAME=X.npy")};
      }
      input_name = metadata.inputs(0).name();
    }
    inputs.emplace_back(input_name, std::move(tensor));
  }
  return inputs;
}

int Infer(CommandContext& context, const InferOptions& options) {
  const InferResult result = Check(context.client.Infer(
      options.model, options.version, ReadInputs(context, options), options.output_names));
  for (const std::string& arg : options.outputs) {
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
  if (context.json) {
    nlohmann::json out = {{"model_name", result.model_name},
                          {"model_version", result.model_version},
                          {"outputs", nlohmann::json::array()}};
    for (const auto& [n, t] : result.outputs) out["outputs"].push_back(TensorJson(n, t));
    std::cout << out.dump(2) << "\n";
  } else if (options.outputs.empty()) {
    for (const auto& [n, t] : result.outputs) {
      nlohmann::json j = TensorJson(n, t);
      std::cout << n << " " << DataTypeName(t.type()) << " " << ShapeToString(t.shape()) << ": "
                << j["data"].dump() << "\n";
    }
  }
  return 0;
}

}  // namespace

void AddInferenceCommands(CLI::App& app, CommandTable& table) {
  table.Add(app.add_subcommand("health", "Check that the server is serving"), Health);

  auto options = std::make_shared<InferOptions>();
  CLI::App* infer = app.add_subcommand("infer", "Run a model on .npy inputs");
  infer->add_option("--model", options->model)->required();
  infer->add_option("--version", options->version, "Default: the default version")
      ->check(CLI::PositiveNumber);
  infer->add_option("--input", options->inputs, "[NAME=]X.npy, once per input")->required();
  infer->add_option("--output", options->outputs,
                    "[NAME=]Y.npy: write that output (unnamed: the first) to a file");
  infer->add_option("--output-name", options->output_names, "Only these outputs");
  table.Add(infer, [options](CommandContext& context) { return Infer(context, *options); });
}

}  // namespace octet::client
