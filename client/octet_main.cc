// octet: the command-line client of octetd. Each command group is a file under commands/; this
// parses the command line and runs the command parsed.
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "client/commands/command.h"
#include "client/octet_client.h"

namespace octet::client {

int Main(int argc, char** argv) {
  CLI::App app{"octet: upload, quantize and serve models on an octetd server"};
  app.require_subcommand(1);
  app.fallthrough();
  std::string server = "127.0.0.1:8500";
  app.add_option("--server", server, "octetd address, HOST:PORT")->envname("OCTET_SERVER");
  bool json = false;
  app.add_flag("--json", json, "Print the result as JSON");
  CommandTable commands;
  AddInferenceCommands(app, commands);
  AddModelCommands(app, commands);
  AddDatasetCommands(app, commands);
  AddJobCommands(app, commands);
  AddBenchCommand(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const CommandRun* run = commands.Parsed();
  if (run == nullptr) return 0;
  try {
    OctetClient client(server);
    CommandContext context{client, server, json};
    return (*run)(context);
  } catch (const CommandError& e) {
    std::cerr << "octet: " << e.message << "\n";
    return 1;
  }
}

}  // namespace octet::client

int main(int argc, char** argv) { return octet::client::Main(argc, argv); }
