#include "server/core/version_drift.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/quant/calibrator.h"
#include "nlohmann/json.hpp"

namespace octet::server {
namespace {

using Json = nlohmann::json;

constexpr int kBuckets = 10;

// The activations the QDQ graph quantizes per tensor, by name, with the range each keeps, in
// graph order.
std::vector<std::pair<std::string, ValueRange>> QuantizedActivations(const Graph& graph) {
  std::vector<std::pair<std::string, ValueRange>> result;
  std::set<std::string> seen;
  for (const Node& node : graph.nodes) {
    if (node.op_type != "QuantizeLinear" || !(node.domain.empty() || node.domain == "ai.onnx")) {
      continue;
    }
    const std::string& x = node.input(0);
    if (x.empty() || graph.FindConstant(x) != nullptr || seen.count(x) > 0) continue;
    const Tensor* scale = graph.FindConstant(node.input(1));
    if (scale == nullptr || scale->type() != DataType::kFloat32 || scale->element_count() != 1) {
      continue;  // per channel, or computed at run time
    }
    DataType type = DataType::kUint8;
    int32_t zero_point = 0;
    if (!node.input(2).empty()) {
      const Tensor* zp = graph.FindConstant(node.input(2));
      if (zp == nullptr || zp->element_count() != 1) continue;
      type = zp->type();
      if (type == DataType::kUint8) zero_point = zp->data<uint8_t>()[0];
      if (type == DataType::kInt8) zero_point = zp->data<int8_t>()[0];
    }
    absl::StatusOr<ValueRange> range = QuantizedRange(scale->data<float>()[0], zero_point, type);
    if (!range.ok()) continue;
    seen.insert(x);
    result.emplace_back(x, *range);
  }
  return result;
}

bool HasOutput(const Graph& graph, const std::string& name) {
  for (const ValueInfo& output : graph.outputs) {
    if (output.name == name) return true;
  }
  return false;
}

const Tensor* FindNamed(absl::Span<const NamedTensor> tensors, const std::string& name) {
  for (const NamedTensor& t : tensors) {
    if (t.first == name) return &t.second;
  }
  return nullptr;
}

absl::Span<const float> FloatValues(const Tensor& t) {
  return absl::Span<const float>(t.data<float>(), t.element_count());
}

std::optional<double> OptionalNumber(const Json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_number()) {
    return std::nullopt;
  }
  return object[key].get<double>();
}

// What report.json records for the monitor, read without trusting its shape.
struct StoredInput {
  ValueRange range;
  std::string range_source;
  std::vector<int64_t> histogram;
};
struct StoredFigures {
  std::optional<octet::v1::OfflineDrift> offline;
  std::map<std::string, StoredInput> inputs;
  std::map<std::string, RangeCoverage> tensors;
};

// The array `key` of `object`, or an empty one.
const Json& ArrayAt(const Json& object, const char* key) {
  static const Json* const kEmpty = new Json(Json::array());
  if (!object.is_object() || !object.contains(key) || !object[key].is_array()) return *kEmpty;
  return object[key];
}

absl::StatusOr<StoredFigures> ReadReport(const std::string& text) {
  StoredFigures figures;
  if (text.empty()) return figures;
  const Json report = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (report.is_discarded() || !report.is_object()) {
    return absl::InvalidArgumentError("the version's report.json is not a JSON object");
  }
  try {
    if (report.contains("evaluation") && report["evaluation"].is_object()) {
      const Json& e = report["evaluation"];
      octet::v1::OfflineDrift& offline = figures.offline.emplace();
      offline.set_samples(static_cast<int64_t>(OptionalNumber(e, "samples").value_or(0)));
      if (auto v = OptionalNumber(e, "float_top1")) offline.set_float_top1(*v);
      if (auto v = OptionalNumber(e, "quantized_top1")) offline.set_quantized_top1(*v);
      if (auto v = OptionalNumber(e, "top1_agreement")) offline.set_top1_agreement(*v);
      offline.set_output_sqnr_db(OptionalNumber(e, "output_sqnr_db").value_or(0));
    }
    const Json& reference =
        report.contains("drift_reference") ? report["drift_reference"] : Json::object();
    for (const Json& entry : ArrayAt(reference, "inputs")) {
      const std::vector<float> edges = entry.at("range").get<std::vector<float>>();
      if (edges.size() != 2 || !(edges[0] <= edges[1])) continue;
      StoredInput& input = figures.inputs[entry.at("name").get<std::string>()];
      input.range = ValueRange{edges[0], edges[1]};
      input.range_source = entry.value("range_source", "calibration data");
      input.histogram = entry.at("histogram").get<std::vector<int64_t>>();
    }
    for (const Json& entry : ArrayAt(reference, "tensors")) {
      RangeCoverage& coverage = figures.tensors[entry.at("name").get<std::string>()];
      coverage.values = entry.at("values").get<int64_t>();
      coverage.out_of_range = entry.at("out_of_range").get<int64_t>();
    }
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("the version's report.json has unexpected drift fields: ", e.what()));
  }
  return figures;
}

}  // namespace

double ClampedSqnrDb(double sqnr_db) {
  if (std::isnan(sqnr_db)) return -100.0;
  return std::clamp(sqnr_db, -100.0, 100.0);
}

VersionDrift::VersionDrift(const VersionDriftSetup& setup)
    : setup_version_(setup.version), window_(setup.window), metrics_(setup.metrics) {}

VersionDrift::~VersionDrift() { Detach(); }

absl::StatusOr<std::unique_ptr<VersionDrift>> VersionDrift::Create(const VersionDriftSetup& setup) {
  if (setup.quantized == nullptr) {
    return absl::InvalidArgumentError("drift monitoring needs the quantized graph");
  }
  auto drift = absl::WrapUnique(new VersionDrift(setup));
  const Graph& quantized = *setup.quantized;
  OCTET_ASSIGN_OR_RETURN(const StoredFigures stored, ReadReport(setup.report_json));
  DriftMetrics::OfflineFigures offline;
  if (stored.offline.has_value()) {
    drift->has_offline_ = true;
    drift->offline_ = *stored.offline;
    if (stored.offline->has_float_top1()) offline.float_top1 = stored.offline->float_top1();
    if (stored.offline->has_quantized_top1()) {
      offline.quantized_top1 = stored.offline->quantized_top1();
    }
    if (stored.offline->has_top1_agreement()) {
      offline.top1_agreement = stored.offline->top1_agreement();
    }
  }
  const std::map<std::string, StoredInput>& calibration = stored.inputs;
  const std::map<std::string, RangeCoverage>& evaluation = stored.tensors;

  const std::vector<std::pair<std::string, ValueRange>> activations =
      QuantizedActivations(quantized);
  std::set<std::string> input_names;
  for (const ValueInfo& input : quantized.inputs) {
    input_names.insert(input.name);
    if (input.type != DataType::kFloat32) continue;
    InputWatch watch;
    watch.name = input.name;
    std::optional<ValueRange> range;
    for (const auto& [name, r] : activations) {
      if (name == input.name) range = r;
    }
    watch.range_source = "quantization";
    const auto recorded = calibration.find(input.name);
    if (recorded != calibration.end()) {
      const StoredInput& entry = recorded->second;
      if (!range.has_value()) {
        range = entry.range;
        watch.range_source = entry.range_source;
      }
      absl::StatusOr<BinnedHistogram> histogram =
          BinnedHistogram::FromCounts(entry.range, entry.histogram);
      if (histogram.ok()) watch.calibration = *std::move(histogram);
    }
    if (!range.has_value()) {
      drift->notes_.push_back(absl::StrCat("input '", input.name,
                                           "' is not quantized and the version has no "
                                           "calibration record: its coverage is not measured"));
      continue;
    }
    watch.range = *range;
    if (setup.metrics != nullptr) {
      watch.series =
          setup.metrics->AddInput(setup.version.name(), absl::StrCat(setup.version.version()),
                                  input.name, watch.calibration.has_value());
    }
    drift->inputs_.push_back(std::move(watch));
  }

  std::vector<std::string> fetch;
  const Graph* reference = setup.source != nullptr ? setup.source : &quantized;
  if (setup.source != nullptr) {
    std::string compared = setup.compared_output;
    if (compared.empty()) {
      for (const ValueInfo& output : setup.source->outputs) {
        if (output.type == DataType::kFloat32) {
          compared = output.name;
          break;
        }
      }
    }
    if (!compared.empty() && HasOutput(*setup.source, compared) && HasOutput(quantized, compared)) {
      drift->compares_outputs_ = true;
      drift->compared_output_ = compared;
      fetch.push_back(compared);
    } else {
      drift->notes_.push_back(
          absl::StrCat("output '", compared,
                       "' is not a float32 output of both versions: outputs are not "
                       "compared"));
    }
  } else {
    drift->notes_.push_back(
        "the version has no float source version: only calibration coverage is monitored");
  }
  std::set<std::string> produced;
  for (const Node& node : reference->nodes) {
    produced.insert(node.outputs.begin(), node.outputs.end());
  }
  int missing = 0;
  for (const auto& [name, range] : activations) {
    if (input_names.count(name) > 0) continue;
    if (produced.count(name) == 0) {
      ++missing;
      continue;
    }
    const auto job = evaluation.find(name);
    drift->tensors_.push_back(
        TensorWatch{name, range, job != evaluation.end() ? job->second : RangeCoverage{}});
    if (name != drift->compared_output_) fetch.push_back(name);
  }
  if (missing > 0) {
    drift->notes_.push_back(absl::StrCat(missing,
                                         " quantized activations have no value of that name in "
                                         "the float version: their coverage is not measured"));
  }
  if (drift->compares_outputs_) {
    drift->comparison_note_ =
        "per batch row; top-1 is the argmax over the last axis when every "
        "axis between the first and the last has size 1";
  }
  if (!fetch.empty()) {
    std::vector<std::string> extra(fetch.begin() + (drift->compares_outputs_ ? 1 : 0), fetch.end());
    SessionOptions options = setup.session_options;
    options.lower_int8 = setup.source != nullptr;  // the QDQ graph runs simulated in float
    OCTET_ASSIGN_OR_RETURN(drift->reference_,
                           Session::Create(WithExtraOutputs(*reference, extra), options));
  }
  if (setup.metrics != nullptr) {
    drift->series_ = setup.metrics->AddVersion(setup.version.name(),
                                               absl::StrCat(setup.version.version()), offline);
  }
  return drift;
}

absl::Status VersionDrift::Observe(absl::Span<const NamedTensor> inputs,
                                   absl::Span<const NamedTensor> outputs, const Session& served,
                                   absl::Time now) {
  // Everything is measured first, then merged under the lock.
  std::vector<RangeCoverage> input_coverage(inputs_.size());
  std::vector<std::optional<BinnedHistogram>> input_histograms(inputs_.size());
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const Tensor* t = FindNamed(inputs, inputs_[i].name);
    if (t == nullptr || t->type() != DataType::kFloat32) continue;
    input_coverage[i].Add(FloatValues(*t), inputs_[i].range);
    if (inputs_[i].calibration.has_value()) {
      BinnedHistogram histogram(inputs_[i].calibration->range(), inputs_[i].calibration->bins());
      histogram.Add(FloatValues(*t));
      input_histograms[i] = std::move(histogram);
    }
  }
  std::vector<Tensor> fetched;
  std::vector<RowDrift> rows;
  std::vector<RangeCoverage> tensor_coverage(tensors_.size());
  std::vector<ValueRange> tensor_seen(tensors_.size());
  if (reference_ != nullptr) {
    std::vector<std::string> names;
    if (compares_outputs_) names.push_back(compared_output_);
    for (const TensorWatch& watch : tensors_) {
      if (watch.name != compared_output_) names.push_back(watch.name);
    }
    OCTET_ASSIGN_OR_RETURN(fetched, reference_->Run(inputs, names));
    if (compares_outputs_) {
      const Tensor* live = FindNamed(outputs, compared_output_);
      std::vector<Tensor> recomputed;
      if (live == nullptr) {
        OCTET_ASSIGN_OR_RETURN(recomputed, served.Run(inputs, {compared_output_}));
        live = &recomputed[0];
      }
      OCTET_ASSIGN_OR_RETURN(rows, CompareRows(fetched[0], *live));
    }
    size_t next = compares_outputs_ ? 1 : 0;
    for (size_t j = 0; j < tensors_.size(); ++j) {
      const Tensor& t = tensors_[j].name == compared_output_ ? fetched[0] : fetched[next++];
      if (t.type() != DataType::kFloat32) continue;
      const ValueSummary summary = SummarizeValues(FloatValues(t), tensors_[j].range);
      tensor_coverage[j] = summary.coverage;
      tensor_seen[j] = summary.seen;
    }
  }

  absl::MutexLock lock(&mu_);
  Bucket& bucket = CurrentBucket(now);
  for (const RowDrift& row : rows) {
    const double sqnr = ClampedSqnrDb(row.sqnr_db);
    bucket.min_sqnr = bucket.rows == 0 ? sqnr : std::min(bucket.min_sqnr, sqnr);
    bucket.min_cosine = bucket.rows == 0 ? row.cosine : std::min(bucket.min_cosine, row.cosine);
    bucket.sum_sqnr += sqnr;
    bucket.sum_cosine += row.cosine;
    bucket.max_abs_error = std::max(bucket.max_abs_error, row.max_abs_error);
    ++bucket.rows;
    if (row.top1_agrees.has_value()) {
      bucket.has_class_axis = true;
      bucket.agreements += *row.top1_agrees;
    }
    if (!detached_ && metrics_ != nullptr) {
      series_.samples->Increment();
      if (row.top1_agrees.value_or(false)) series_.agreements->Increment();
      series_.sqnr_db->Observe(sqnr);
      series_.cosine->Observe(row.cosine);
      series_.max_abs_error->Observe(row.max_abs_error);
    }
  }
  for (size_t i = 0; i < inputs_.size(); ++i) {
    bucket.inputs[i].Add(input_coverage[i]);
    if (input_histograms[i].has_value()) bucket.input_histograms[i].Add(*input_histograms[i]);
  }
  for (size_t j = 0; j < tensors_.size(); ++j) {
    if (tensor_coverage[j].values == 0) continue;
    ValueRange& seen = bucket.tensor_seen[j];
    seen = bucket.tensors[j].values == 0 ? tensor_seen[j]
                                         : ValueRange{std::min(seen.min, tensor_seen[j].min),
                                                      std::max(seen.max, tensor_seen[j].max)};
    bucket.tensors[j].Add(tensor_coverage[j]);
  }
  if (!detached_ && metrics_ != nullptr) {
    for (size_t i = 0; i < inputs_.size(); ++i) {
      const InputWatch& watch = inputs_[i];
      watch.series.values->Increment(static_cast<double>(input_coverage[i].values));
      watch.series.out_of_range->Increment(static_cast<double>(input_coverage[i].out_of_range));
      if (watch.series.psi == nullptr) continue;
      BinnedHistogram window(watch.calibration->range(), watch.calibration->bins());
      for (const Bucket& b : buckets_) window.Add(b.input_histograms[i]);
      const std::optional<double> psi = PopulationStabilityIndex(*watch.calibration, window);
      if (psi.has_value()) watch.series.psi->Set(*psi);
    }
  }
  return absl::OkStatus();
}

void VersionDrift::CountDropped(const std::string& reason, const std::string& error) {
  absl::MutexLock lock(&mu_);
  const bool full = reason == "queue_full";
  if (!error.empty()) last_error_ = error;
  ++(full ? dropped_queue_full_ : dropped_failed_);
  if (!detached_ && metrics_ != nullptr) {
    (full ? series_.dropped_queue_full : series_.dropped_failed)->Increment();
  }
}

VersionDrift::Bucket& VersionDrift::CurrentBucket(absl::Time now) {
  const absl::Duration width = window_ / kBuckets;
  while (!buckets_.empty() && buckets_.front().start + width <= now - window_) buckets_.pop_front();
  if (buckets_.empty() || now >= buckets_.back().start + width) {
    Bucket bucket;
    bucket.start = now;
    bucket.inputs.resize(inputs_.size());
    for (const InputWatch& watch : inputs_) {
      bucket.input_histograms.push_back(
          watch.calibration.has_value()
              ? BinnedHistogram(watch.calibration->range(), watch.calibration->bins())
              : BinnedHistogram(watch.range));
    }
    bucket.tensors.resize(tensors_.size());
    bucket.tensor_seen.resize(tensors_.size());
    buckets_.push_back(std::move(bucket));
  }
  return buckets_.back();
}

octet::v1::DriftReport VersionDrift::Report(absl::Time now) const {
  octet::v1::DriftReport report;
  report.set_name(setup_version_.name());
  report.set_version(setup_version_.version());
  report.set_source_version(compares_outputs_ ? setup_version_.source_version() : 0);
  report.set_compared_output(compared_output_);
  report.set_comparison_note(comparison_note_);
  if (has_offline_) *report.mutable_offline() = offline_;
  for (const std::string& note : notes_) report.add_notes(note);

  absl::MutexLock lock(&mu_);
  report.set_dropped_queue_full(dropped_queue_full_);
  report.set_dropped_failed(dropped_failed_);
  const absl::Duration width = window_ / kBuckets;
  Bucket total;
  total.inputs.resize(inputs_.size());
  total.tensors.resize(tensors_.size());
  total.tensor_seen.resize(tensors_.size());
  std::vector<std::optional<BinnedHistogram>> histograms(inputs_.size());
  absl::Time first = now;
  for (const Bucket& b : buckets_) {
    if (b.start + width <= now - window_) continue;
    first = std::min(first, b.start);
    if (b.rows > 0) {
      total.min_sqnr = total.rows == 0 ? b.min_sqnr : std::min(total.min_sqnr, b.min_sqnr);
      total.min_cosine = total.rows == 0 ? b.min_cosine : std::min(total.min_cosine, b.min_cosine);
    }
    total.rows += b.rows;
    total.agreements += b.agreements;
    total.has_class_axis |= b.has_class_axis;
    total.sum_sqnr += b.sum_sqnr;
    total.sum_cosine += b.sum_cosine;
    total.max_abs_error = std::max(total.max_abs_error, b.max_abs_error);
    for (size_t i = 0; i < inputs_.size(); ++i) {
      total.inputs[i].Add(b.inputs[i]);
      if (!histograms[i].has_value())
        histograms[i] = b.input_histograms[i];
      else
        histograms[i]->Add(b.input_histograms[i]);
    }
    for (size_t j = 0; j < tensors_.size(); ++j) {
      if (b.tensors[j].values == 0) continue;
      ValueRange& seen = total.tensor_seen[j];
      seen = total.tensors[j].values == 0 ? b.tensor_seen[j]
                                          : ValueRange{std::min(seen.min, b.tensor_seen[j].min),
                                                       std::max(seen.max, b.tensor_seen[j].max)};
      total.tensors[j].Add(b.tensors[j]);
    }
  }
  report.set_window_seconds(absl::ToDoubleSeconds(std::min(window_, now - first)));
  if (!last_error_.empty()) report.add_notes(absl::StrCat("last shadow run failed: ", last_error_));

  octet::v1::LiveDrift& live = *report.mutable_live();
  live.set_samples(total.rows);
  if (total.has_class_axis) live.set_top1_agreements(total.agreements);
  if (total.rows > 0) {
    live.set_mean_sqnr_db(total.sum_sqnr / total.rows);
    live.set_min_sqnr_db(total.min_sqnr);
    live.set_mean_cosine(total.sum_cosine / total.rows);
    live.set_min_cosine(total.min_cosine);
    live.set_max_abs_error(total.max_abs_error);
  }
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const InputWatch& watch = inputs_[i];
    octet::v1::InputCoverage& input = *report.add_inputs();
    input.set_name(watch.name);
    input.set_values(total.inputs[i].values);
    input.set_out_of_range(total.inputs[i].out_of_range);
    input.set_range_min(watch.range.min);
    input.set_range_max(watch.range.max);
    input.set_range_source(watch.range_source);
    if (!watch.calibration.has_value()) continue;
    const std::vector<int64_t>& counts = watch.calibration->counts();
    if (watch.calibration->total() > 0) {
      input.set_calibration_out_of_range_share(static_cast<double>(counts.front() + counts.back()) /
                                               watch.calibration->total());
    }
    if (histograms[i].has_value()) {
      const std::optional<double> psi =
          PopulationStabilityIndex(*watch.calibration, *histograms[i]);
      if (psi.has_value()) input.set_psi(*psi);
    }
  }
  std::vector<size_t> order(tensors_.size());
  for (size_t j = 0; j < order.size(); ++j) order[j] = j;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return total.tensors[a].share() > total.tensors[b].share();
  });
  for (size_t j : order) {
    octet::v1::TensorCoverage& tensor = *report.add_tensors();
    tensor.set_name(tensors_[j].name);
    tensor.set_values(total.tensors[j].values);
    tensor.set_out_of_range(total.tensors[j].out_of_range);
    tensor.set_range_min(tensors_[j].range.min);
    tensor.set_range_max(tensors_[j].range.max);
    tensor.set_observed_min(total.tensor_seen[j].min);
    tensor.set_observed_max(total.tensor_seen[j].max);
    tensor.set_evaluation_values(tensors_[j].evaluation.values);
    tensor.set_evaluation_out_of_range(tensors_[j].evaluation.out_of_range);
  }
  return report;
}

void VersionDrift::Detach() {
  absl::MutexLock lock(&mu_);
  if (detached_) return;
  detached_ = true;
  if (metrics_ == nullptr) return;
  if (series_.samples != nullptr) metrics_->Remove(series_);
  for (const InputWatch& watch : inputs_) {
    if (watch.series.values != nullptr) metrics_->Remove(watch.series);
  }
}

}  // namespace octet::server
