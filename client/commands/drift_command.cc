// octet models drift: a quantized version's live drift from its float original beside the job's
// offline figures, and the inputs and activations whose values leave their calibrated range.
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/commands/command.h"

namespace octet::client {
namespace {

struct DriftOptions {
  std::string name;
  int64_t version = 0;
  int top = 10;
};

std::string Percent(double share) { return absl::StrFormat("%.2f%%", 100.0 * share); }

std::string Share(int64_t part, int64_t whole) {
  return whole == 0 ? "-" : Percent(static_cast<double>(part) / whole);
}

void PrintReport(const octet::v1::DriftReport& r, int top) {
  const octet::v1::LiveDrift& live = r.live();
  std::cout << r.name() << " version " << r.version();
  if (r.source_version() > 0) std::cout << " against float version " << r.source_version();
  std::cout << absl::StrFormat(", live figures over the last %.0f s (sample rate %g)\n",
                               r.window_seconds(), r.sample_rate());
  std::cout << "  " << live.samples()
            << " rows compared; samples dropped: " << r.dropped_queue_full() << " (queue full), "
            << r.dropped_failed() << " (failed)\n";
  auto row = [](const std::string& what, const std::string& now, const std::string& offline) {
    std::cout << absl::StrFormat("  %-24s %-14s %s\n", what, now, offline);
  };
  const bool has_offline = r.has_offline();
  const octet::v1::OfflineDrift& off = r.offline();
  row("", "live", has_offline ? absl::StrCat("job (", off.samples(), " samples)") : "");
  const bool compared = live.samples() > 0;
  row("top-1 agreement",
      live.has_top1_agreements() ? Share(live.top1_agreements(), live.samples()) : "-",
      off.has_top1_agreement() ? Percent(off.top1_agreement()) : "-");
  row("output SQNR, mean", compared ? absl::StrFormat("%.1f dB", live.mean_sqnr_db()) : "-",
      has_offline ? absl::StrFormat("%.1f dB", off.output_sqnr_db()) : "-");
  row("output SQNR, worst row", compared ? absl::StrFormat("%.1f dB", live.min_sqnr_db()) : "-",
      "");
  row("cosine, mean / worst",
      compared ? absl::StrFormat("%.4f / %.4f", live.mean_cosine(), live.min_cosine()) : "-", "");
  row("max absolute error", compared ? absl::StrFormat("%.4g", live.max_abs_error()) : "-", "");
  if (off.has_float_top1()) row("float top-1 (labelled)", "", Percent(off.float_top1()));
  if (off.has_quantized_top1()) row("quantized top-1", "", Percent(off.quantized_top1()));
  if (!r.compared_output().empty()) {
    std::cout << "  compared: output '" << r.compared_output() << "', " << r.comparison_note()
              << "\n";
  }
  if (r.inputs_size() > 0) {
    std::cout << "inputs: values outside the calibrated range\n";
    for (const octet::v1::InputCoverage& input : r.inputs()) {
      std::cout << absl::StrFormat(
          "  %-16s %8s of %-10d calibration %-8s PSI %-7s range [%g, %g] (%s)\n", input.name(),
          Share(input.out_of_range(), input.values()), input.values(),
          input.has_calibration_out_of_range_share()
              ? Percent(input.calibration_out_of_range_share())
              : "-",
          input.has_psi() ? absl::StrFormat("%.3f", input.psi()) : "-", input.range_min(),
          input.range_max(), input.range_source());
    }
  }
  if (r.tensors_size() > 0) {
    std::cout << "activations most often outside their calibrated range (" << r.tensors_size()
              << " monitored)\n";
    int width = 8;
    for (int i = 0; i < r.tensors_size() && i < top; ++i) {
      width = std::max(width, static_cast<int>(r.tensors(i).name().size()));
    }
    for (int i = 0; i < r.tensors_size() && i < top; ++i) {
      const octet::v1::TensorCoverage& t = r.tensors(i);
      std::cout << absl::StrFormat("  %-*s %8s of %-10d job %-8s range [%g, %g]  seen [%g, %g]\n",
                                   width, t.name(), Share(t.out_of_range(), t.values()), t.values(),
                                   Share(t.evaluation_out_of_range(), t.evaluation_values()),
                                   t.range_min(), t.range_max(), t.observed_min(),
                                   t.observed_max());
    }
  }
  for (const std::string& note : r.notes()) std::cout << "note: " << note << "\n";
}

int Drift(CommandContext& context, const DriftOptions& o) {
  const octet::v1::DriftReport report = Check(context.client.GetDrift(o.name, o.version));
  if (context.json) {
    std::cout << ToJson(report);
  } else {
    PrintReport(report, o.top);
  }
  return 0;
}

}  // namespace

void AddDriftCommand(CLI::App& models, CommandTable& table) {
  auto o = std::make_shared<DriftOptions>();
  CLI::App* drift = models.add_subcommand(
      "drift",
      "A quantized version's live drift from its float original, beside the job's figures, and "
      "the tensors whose values leave their calibrated range");
  drift->add_option("name", o->name)->required();
  drift
      ->add_option("--version", o->version,
                   "Default: the default version, or when it is float the newest quantized one")
      ->check(CLI::PositiveNumber);
  drift->add_option("--top", o->top, "Activations listed (worst first)")
      ->check(CLI::PositiveNumber);
  table.Add(drift, [o](CommandContext& context) { return Drift(context, *o); });
}

}  // namespace octet::client
