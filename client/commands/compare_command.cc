// octet models compare: two versions of a model side by side, as this server serves them.
#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/commands/command.h"
#include "client/load_generator.h"
#include "nlohmann/json.hpp"

namespace octet::client {
namespace {

struct CompareOptions {
  std::string name;
  std::vector<int64_t> versions;
  std::vector<int64_t> batches = {1, 32};
  double duration_s = 2;
};

// What is compared of one version.
struct VersionFigures {
  octet::v1::ModelVersion version;
  octet::v1::ModelRuntime runtime;
  std::optional<double> top1;  // from the job that made it (or that quantized it)
  std::vector<double> p50_ms;  // per batch size
};

// The p50 round trip of `concurrency` 1 at each batch size, over `duration` after a short warm-up.
std::vector<double> Latencies(CommandContext& context, const CompareOptions& o, int64_t version) {
  std::vector<double> p50;
  for (int64_t batch : o.batches) {
    LoadOptions load;
    load.model = o.name;
    load.version = version;
    load.inputs = DeclaredRandomInputs(context, o.name, version, batch);
    load.warmup = absl::Milliseconds(500);
    load.duration = absl::Seconds(o.duration_s);
    const LoadResult result = Check(RunLoad(context.client.channel(), load));
    if (result.errors > 0) {
      throw CommandError{
          absl::StrCat("version ", version, " at batch ", batch, ": ", result.first_error)};
    }
    p50.push_back(result.p50_ms);
  }
  return p50;
}

int Compare(CommandContext& context, const CompareOptions& o) {
  if (o.versions.size() != 2) throw CommandError{"--versions takes two versions, A,B"};
  const octet::v1::Model model = Check(context.client.GetModel(o.name));
  std::vector<VersionFigures> figures(2);
  std::optional<octet::v1::EvaluationSummary> evaluation;
  int64_t evaluation_version = 0;
  for (size_t i = 0; i < 2; ++i) {
    for (const auto& v : model.versions()) {
      if (v.version() == o.versions[i]) figures[i].version = v;
    }
    if (figures[i].version.version() == 0) {
      throw CommandError{absl::StrCat("model '", o.name, "' has no version ", o.versions[i])};
    }
    figures[i].runtime = Check(context.client.DescribeRuntime(o.name, o.versions[i], 1, {}));
    if (!figures[i].version.job_id().empty()) {
      const octet::v1::Job job = Check(context.client.GetJob(figures[i].version.job_id()));
      if (job.evaluation().samples() > 0) {
        evaluation = job.evaluation();
        evaluation_version = job.model_version();
        if (job.evaluation().has_quantized_top1()) {
          figures[i].top1 = job.evaluation().quantized_top1();
        }
      }
    }
  }
  // The float top-1 the job measured belongs to the version it quantized.
  for (VersionFigures& f : figures) {
    if (!f.top1.has_value() && evaluation.has_value() &&
        f.version.version() == evaluation_version && evaluation->has_float_top1()) {
      f.top1 = evaluation->float_top1();
    }
  }
  for (size_t i = 0; i < 2; ++i) figures[i].p50_ms = Latencies(context, o, o.versions[i]);

  if (context.json) {
    nlohmann::json out = {{"model", o.name}, {"cpu", figures[0].runtime.cpu()}};
    for (const VersionFigures& f : figures) {
      nlohmann::json v = {{"version", f.version.version()},
                          {"precision", PrecisionName(f.version.precision())},
                          {"size_bytes", f.version.size_bytes()},
                          {"int8_nodes", f.runtime.int8_nodes_size()},
                          {"float_patterns", f.runtime.simulated_nodes_size()}};
      if (f.top1.has_value()) v["top1"] = *f.top1;
      for (size_t b = 0; b < o.batches.size(); ++b) {
        v["p50_ms"][absl::StrCat(o.batches[b])] = f.p50_ms[b];
      }
      out["versions"].push_back(v);
    }
    if (evaluation.has_value()) {
      if (evaluation->has_top1_agreement()) out["top1_agreement"] = evaluation->top1_agreement();
      out["samples"] = evaluation->samples();
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  const VersionFigures &a = figures[0], &b = figures[1];
  auto row = [](const std::string& what, const std::string& x, const std::string& y) {
    std::cout << absl::StrFormat("  %-28s %14s %14s\n", what, x, y);
  };
  auto percent = [](const std::optional<double>& f) {
    return f.has_value() ? absl::StrFormat("%.2f%%", 100 * *f) : std::string("-");
  };
  std::cout << o.name << ": version " << a.version.version() << " against version "
            << b.version.version() << " on this server (" << a.runtime.cpu() << ")\n";
  row("", absl::StrCat("version ", a.version.version()),
      absl::StrCat("version ", b.version.version()));
  row("precision", PrecisionName(a.version.precision()), PrecisionName(b.version.precision()));
  row("file size", absl::StrFormat("%.2f MiB", a.version.size_bytes() / 1048576.0),
      absl::StrFormat("%.2f MiB", b.version.size_bytes() / 1048576.0));
  if (evaluation.has_value()) {
    row(absl::StrCat("top-1 (", evaluation->samples(), " samples)"), percent(a.top1),
        percent(b.top1));
    row("top-1 agreement", "",
        percent(evaluation->has_top1_agreement()
                    ? std::optional<double>(evaluation->top1_agreement())
                    : std::nullopt));
  }
  for (size_t i = 0; i < o.batches.size(); ++i) {
    row(absl::StrCat("p50 round trip, batch ", o.batches[i]),
        absl::StrFormat("%.3f ms", a.p50_ms[i]), absl::StrFormat("%.3f ms", b.p50_ms[i]));
  }
  for (size_t i = 0; i < o.batches.size(); ++i) {
    row(absl::StrCat("speed-up, batch ", o.batches[i]), "",
        absl::StrFormat("%.2fx", a.p50_ms[i] / b.p50_ms[i]));
  }
  auto int8 = [](const VersionFigures& f) {
    if (f.runtime.int8_nodes_size() + f.runtime.simulated_nodes_size() == 0)
      return std::string("-");
    return absl::StrCat(f.runtime.int8_nodes_size(), " int8, ", f.runtime.simulated_nodes_size(),
                        " float");
  };
  row("quantized patterns run in", int8(a), int8(b));
  return 0;
}

}  // namespace

void AddCompareCommand(CLI::App& models, CommandTable& table) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App* compare = models.add_subcommand(
      "compare", "Two versions side by side: precision, size, top-1, latency through this server");
  compare->add_option("name", o->name)->required();
  compare->add_option("--versions", o->versions, "A,B")->required()->delimiter(',');
  compare->add_option("--batch", o->batches, "Batch sizes timed (default 1,32)")->delimiter(',');
  compare->add_option("--duration", o->duration_s, "Seconds timed per version and batch size")
      ->check(CLI::PositiveNumber);
  table.Add(compare, [o](CommandContext& context) { return Compare(context, *o); });
}

}  // namespace octet::client
