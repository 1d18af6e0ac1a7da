// octet datasets upload | list | get | delete.
#include <iostream>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/commands/command.h"

namespace octet::client {
namespace {

struct DatasetOptions {
  std::string file, name, description;
};

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

// The dataset as JSON or as PrintDataset's lines, after `prefix`.
void Show(CommandContext& context, const octet::v1::Dataset& d, const char* prefix) {
  if (context.json) {
    std::cout << ToJson(d);
  } else {
    std::cout << prefix;
    PrintDataset(d);
  }
}

int Upload(CommandContext& context, const DatasetOptions& o) {
  Show(context, Check(context.client.UploadDataset(o.file, o.name, o.description)),
       "uploaded dataset ");
  return 0;
}

int List(CommandContext& context) {
  const std::vector<octet::v1::Dataset> all = Check(context.client.ListDatasets());
  if (context.json) {
    octet::v1::ListDatasetsResponse response;
    for (const auto& d : all) *response.add_datasets() = d;
    std::cout << ToJson(response);
  } else {
    for (const auto& d : all) PrintDataset(d);
  }
  return 0;
}

int Get(CommandContext& context, const DatasetOptions& o) {
  Show(context, Check(context.client.GetDataset(o.name)), "");
  return 0;
}

int Delete(CommandContext& context, const DatasetOptions& o) {
  CheckOk(context.client.DeleteDataset(o.name));
  std::cout << "deleted dataset " << o.name << "\n";
  return 0;
}

}  // namespace

void AddDatasetCommands(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<DatasetOptions>();
  auto run = [o](int (*command)(CommandContext&, const DatasetOptions&)) {
    return [o, command](CommandContext& context) { return command(context, *o); };
  };
  CLI::App* datasets = app.add_subcommand("datasets", "Manage calibration and evaluation datasets");
  datasets->require_subcommand(1);
  datasets->fallthrough();
  CLI::App* upload =
      datasets->add_subcommand("upload", "Upload a .npy or .npz file (arrays named after inputs)");
  upload->add_option("file", o->file, ".npy or .npz file")->required();
  upload->add_option("--name", o->name, "Dataset name")->required();
  upload->add_option("--description", o->description, "Free text kept with the dataset");
  table.Add(upload, run(Upload));
  table.Add(datasets->add_subcommand("list", "List datasets"), List);
  CLI::App* get = datasets->add_subcommand("get", "Show a dataset");
  get->add_option("name", o->name)->required();
  table.Add(get, run(Get));
  CLI::App* remove = datasets->add_subcommand("delete", "Delete a dataset");
  remove->add_option("name", o->name)->required();
  table.Add(remove, run(Delete));
}

}  // namespace octet::client
