// What the `octet` tool's commands share: how a command is registered and run, how it fails, and
// the JSON rendering of responses. One file per command group beside this one; octet_main.cc
// parses and dispatches.
#ifndef OCTET_CLIENT_COMMANDS_COMMAND_H_
#define OCTET_CLIENT_COMMANDS_COMMAND_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/octet_client.h"
#include "google/protobuf/message.h"

namespace octet::client {

// Thrown by a command to end with exit code 1 and one line on stderr.
struct CommandError {
  std::string message;
};

// Throws CommandError "CODE: message" unless `status` is OK.
void CheckOk(const absl::Status& status);

template <typename T>
T Check(absl::StatusOr<T> value) {
  CheckOk(value.status());
  return *std::move(value);
}

// "float", "int8" or "weight-only".
std::string PrecisionName(octet::v1::Precision precision);

// `message` as indented JSON with the proto's field names.
std::string ToJson(const google::protobuf::Message& message);

// What a command runs with: the connection and the global flags.
struct CommandContext {
  OctetClient& client;
  const std::string& server;
  bool json;
};

// Runs a parsed command; returns the process's exit code.
using CommandRun = std::function<int(CommandContext& context)>;

// The subcommands of the tool, each with what runs it. Not thread-safe.
class CommandTable {
 public:
  // Registers `command` (a subcommand of the tool's CLI::App) to run `run` when parsed.
  void Add(CLI::App* command, CommandRun run) { entries_.emplace_back(command, std::move(run)); }

  // What runs the parsed subcommand, or nullptr when none was.
  const CommandRun* Parsed() const {
    for (const auto& [command, run] : entries_) {
      if (command->parsed()) return &run;
    }
    return nullptr;
  }

 private:
  std::vector<std::pair<CLI::App*, CommandRun>> entries_;
};

// Each group adds its subcommands to `app` and their runs to `table`.
void AddInferenceCommands(CLI::App& app, CommandTable& table);  // health, infer
void AddModelCommands(CLI::App& app, CommandTable& table);      // models ...
void AddDatasetCommands(CLI::App& app, CommandTable& table);    // datasets ...
void AddJobCommands(CLI::App& app, CommandTable& table);        // quantize, jobs ...
void AddBenchCommand(CLI::App& app, CommandTable& table);       // bench
// models compare (under the `models` subcommand).
void AddCompareCommand(CLI::App& models, CommandTable& table);
// models drift (under the `models` subcommand).
void AddDriftCommand(CLI::App& models, CommandTable& table);

// Random inputs (uniform [0, 1) floats, zeros otherwise) of the shapes a model version declares,
// the first axis set to `batch`; CommandError for another dynamic axis.
std::vector<std::pair<std::string, Tensor>> DeclaredRandomInputs(CommandContext& context,
                                                                 const std::string& model,
                                                                 int64_t version, int64_t batch);

}  // namespace octet::client

#endif  // OCTET_CLIENT_COMMANDS_COMMAND_H_
