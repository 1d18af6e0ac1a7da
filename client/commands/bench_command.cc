// octet bench: closed-loop ModelInfer load (client/load_generator.h) with the server's own view.
#include <cstring>
#include <iostream>
#include <memory>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "client/commands/command.h"
#include "client/load_generator.h"
#include "engine/io/npy.h"
#include "nlohmann/json.hpp"

namespace octet::client {
namespace {

struct BenchOptions {
  std::string model;
  int64_t version = 0;
  std::vector<std::string> inputs, shapes;
  int64_t batch = 0;
  int concurrency = 1;
  double duration_s = 10, warmup_s = 1;
  int64_t requests = 0;
  int64_t timeout_ms = 0;
  std::string metrics_url;
};

// `tensor` with `rows` rows along its first axis, its own rows repeated as needed.
Tensor WithRows(const Tensor& tensor, int64_t rows) {
  if (tensor.rank() == 0 || tensor.dim(0) == rows) return tensor;
  if (tensor.dim(0) == 0) throw CommandError{"an --input with no rows cannot be repeated"};
  Shape shape = tensor.shape();
  shape[0] = rows;
  Tensor out = Check(Tensor::Create(tensor.type(), shape));
  const size_t row_bytes = tensor.byte_size() / tensor.dim(0);
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(static_cast<char*>(out.raw_data()) + r * row_bytes,
                static_cast<const char*>(tensor.raw_data()) + (r % tensor.dim(0)) * row_bytes,
                row_bytes);
  }
  return out;
}

// Uniform [0, 1) floats, zeros otherwise.
Tensor RandomTensor(DataType type, const Shape& shape) {
  Tensor tensor = Check(Tensor::Create(type, shape));
  std::mt19937 random(7);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  if (type == DataType::kFloat32) {
    for (int64_t i = 0; i < tensor.element_count(); ++i) tensor.data<float>()[i] = uniform(random);
  } else if (type == DataType::kFloat64) {
    for (int64_t i = 0; i < tensor.element_count(); ++i) tensor.data<double>()[i] = uniform(random);
  }
  return tensor;
}

Shape ParseDims(const std::string& text, const std::string& what) {
  Shape shape;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int64_t d;
    if (!absl::SimpleAtoi(part, &d) || d < 0) {
      throw CommandError{
          absl::StrCat(what, ": '", text, "' is not a list of sizes like 1,3,224,224")};
    }
    shape.push_back(d);
  }
  return shape;
}

// What every request sends: the --input files, the --shape random tensors, or random tensors of
// the model's declared shapes; the first axis set to --batch when given.
std::vector<std::pair<std::string, Tensor>> BenchInputs(CommandContext& context,
                                                        const BenchOptions& options) {
  const auto metadata = Check(context.client.ModelMetadata(options.model, options.version));
  auto declared =
      [&](const std::string& name) -> const inference::ModelMetadataResponse::TensorMetadata& {
    for (const auto& input : metadata.inputs()) {
      if (input.name() == name || (name.empty() && metadata.inputs_size() == 1)) return input;
    }
    throw CommandError{name.empty()
                           ? absl::StrCat("model '", options.model, "' has ",
                                          metadata.inputs_size(), " inputs; name them")
                           : absl::StrCat("model '", options.model, "' has no input '", name, "'")};
  };
  std::vector<std::pair<std::string, Tensor>> inputs;
  for (const std::string& arg : options.inputs) {
    const size_t eq = arg.find('=');
    const std::string name = eq == std::string::npos ? "" : arg.substr(0, eq);
    Tensor tensor = Check(ReadNpyFile(eq == std::string::npos ? arg : arg.substr(eq + 1)));
    inputs.emplace_back(declared(name).name(), std::move(tensor));
  }
  for (const std::string& arg : options.shapes) {
    const size_t eq = arg.find('=');
    const std::string name = eq == std::string::npos ? "" : arg.substr(0, eq);
    const auto& input = declared(name);
    const std::optional<DataType> type = DataTypeFromKserveName(input.datatype());
    if (!type.has_value())
      throw CommandError{absl::StrCat("input '", input.name(), "' has no datatype")};
    inputs.emplace_back(
        input.name(),
        RandomTensor(*type,
                     ParseDims(eq == std::string::npos ? arg : arg.substr(eq + 1), "--shape")));
  }
  if (inputs.empty()) {
    for (const auto& input : metadata.inputs()) {
      Shape shape(input.shape().begin(), input.shape().end());
      for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] >= 0) continue;
        if (i > 0) {
          throw CommandError{absl::StrCat("input '", input.name(), "' has a dynamic axis ", i,
                                          "; give its shape with --shape NAME=d0,d1,...")};
        }
        shape[0] = 1;
      }
      const std::optional<DataType> type = DataTypeFromKserveName(input.datatype());
      if (!type.has_value())
        throw CommandError{absl::StrCat("input '", input.name(), "' has no datatype")};
      inputs.emplace_back(input.name(), RandomTensor(*type, shape));
    }
  }
  if (options.batch > 0) {
    for (auto& [name, tensor] : inputs) tensor = WithRows(tensor, options.batch);
  }
  return inputs;
}

// http://HOST:9464/metrics for --server HOST:PORT (octetd's default metrics port).
std::string DefaultMetricsUrl(const std::string& server) {
  const size_t colon = server.rfind(':');
  return absl::StrCat("http://", colon == std::string::npos ? server : server.substr(0, colon),
                      ":9464/metrics");
}

int Bench(CommandContext& context, const BenchOptions& options) {
  LoadOptions load;
  load.model = options.model;
  load.version = options.version;
  load.inputs = BenchInputs(context, options);
  load.concurrency = options.concurrency;
  load.duration = absl::Seconds(options.duration_s);
  load.warmup = absl::Seconds(options.warmup_s);
  load.max_requests = options.requests;
  if (options.timeout_ms > 0) load.timeout = absl::Milliseconds(options.timeout_ms);
  const std::string url =
      options.metrics_url.empty() ? DefaultMetricsUrl(context.server) : options.metrics_url;

  // The server's histograms are read after the warm-up, so that they cover the counted requests
  // (and those in flight at the warm-up's end).
  absl::StatusOr<ServerHistograms> before;
  LoadOptions warmup = load;
  std::optional<LoadResult> warm;
  if (load.warmup > absl::ZeroDuration()) {
    warmup.duration = load.warmup;
    warmup.warmup = absl::ZeroDuration();
    warm = Check(RunLoad(context.client.channel(), warmup));
  }
  before = ServerHistograms::Scrape(url);
  load.warmup = absl::ZeroDuration();
  const LoadResult result = Check(RunLoad(context.client.channel(), load));
  absl::StatusOr<ServerHistograms> after = ServerHistograms::Scrape(url);
  std::string version = result.served_version;
  if (version.empty() && warm.has_value()) version = warm->served_version;
  std::optional<ServerTimes> server;
  std::string server_note;
  if (before.ok() && after.ok()) {
    server = after->Since(*before, options.model, version);
  } else {
    server_note = std::string((before.ok() ? after.status() : before.status()).message());
  }

  if (context.json) {
    nlohmann::json out = {{"model", options.model},
                          {"version", version},
                          {"batch", result.rows_per_request},
                          {"concurrency", result.concurrency},
                          {"duration_s", result.seconds},
                          {"requests", result.ok + result.errors},
                          {"requests_per_s", result.requests_per_s()},
                          {"images_per_s", result.images_per_s()},
                          {"p50_ms", result.p50_ms},
                          {"p90_ms", result.p90_ms},
                          {"p99_ms", result.p99_ms},
                          {"max_ms", result.max_ms},
                          {"mean_ms", result.mean_ms},
                          {"errors", result.errors},
                          {"errors_by_code", result.errors_by_code}};
    if (server.has_value()) {
      out["server"] = {{"requests", server->requests}, {"request_ms", server->request_ms},
                       {"queue_ms", server->queue_ms}, {"compute_ms", server->compute_ms},
                       {"batches", server->batches},   {"batch_rows", server->batch_rows}};
    } else {
      out["server"] = nullptr;
      out["server_note"] = server_note;
    }
    if (!result.first_error.empty()) out["first_error"] = result.first_error;
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << absl::StrFormat(
        "octet bench: model %s version %s, batch %d, concurrency %d, %.1f s\n"
        "  requests/s %.1f, images/s %.1f\n"
        "  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n"
        "  errors: %d\n",
        options.model, version, result.rows_per_request, result.concurrency, result.seconds,
        result.requests_per_s(), result.images_per_s(), result.p50_ms, result.p90_ms, result.p99_ms,
        result.max_ms, result.errors);
    for (const auto& [code, count] : result.errors_by_code) {
      std::cout << "    " << code << ": " << count << "\n";
    }
    if (!result.first_error.empty()) std::cout << "    first: " << result.first_error << "\n";
    if (server.has_value()) {
      std::cout << absl::StrFormat(
          "  server (its histograms, %d requests): request %.3f ms = queued %.3f + computing "
          "%.3f (+ decode, reply); %d batches of %.1f rows on average\n",
          server->requests, server->request_ms, server->queue_ms, server->compute_ms,
          server->batches, server->batch_rows);
    } else {
      std::cout << "  server: not read (" << server_note << "; --metrics URL)\n";
    }
  }
  return result.errors == 0 ? 0 : 3;
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> DeclaredRandomInputs(CommandContext& context,
                                                                 const std::string& model,
                                                                 int64_t version, int64_t batch) {
  BenchOptions options;
  options.model = model;
  options.version = version;
  options.batch = batch;
  return BenchInputs(context, options);
}

void AddBenchCommand(CLI::App& app, CommandTable& table) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* bench = app.add_subcommand(
      "bench", "Load a model with concurrent ModelInfer requests; latency, throughput, errors");
  bench->add_option("--model", options->model)->required();
  bench->add_option("--version", options->version, "Default: the default version")
      ->check(CLI::PositiveNumber);
  bench->add_option("--input", options->inputs, "[NAME=]X.npy, once per input");
  bench->add_option("--shape", options->shapes,
                    "[NAME=]d0,d1,...: random inputs of that shape (default: the declared ones)");
  bench->add_option("--batch", options->batch, "Rows per request (first axis of every input)")
      ->check(CLI::PositiveNumber);
  bench->add_option("--concurrency", options->concurrency, "Requests in flight at once")
      ->check(CLI::Range(1, 4096));
  bench->add_option("--duration", options->duration_s, "Seconds counted")
      ->check(CLI::PositiveNumber);
  bench->add_option("--warmup", options->warmup_s, "Seconds sent first and not counted")
      ->check(CLI::NonNegativeNumber);
  bench->add_option("--requests", options->requests, "Stop after this many counted requests")
      ->check(CLI::NonNegativeNumber);
  bench->add_option("--timeout-ms", options->timeout_ms, "Deadline of each request")
      ->check(CLI::NonNegativeNumber);
  bench->add_option("--metrics", options->metrics_url,
                    "octetd's metrics URL (default: http://SERVER_HOST:9464/metrics)");
  table.Add(bench, [options](CommandContext& context) { return Bench(context, *options); });
}

}  // namespace octet::client
