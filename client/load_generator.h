// `octet bench`'s engine: closed-loop ModelInfer load over one channel with gRPC's asynchronous
// (callback) client API, N requests in flight at once, and the server's own view of the same
// requests read from its Prometheus histograms.
#ifndef OCTET_CLIENT_LOAD_GENERATOR_H_
#define OCTET_CLIENT_LOAD_GENERATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/tensor/tensor.h"
#include "grpcpp/channel.h"

namespace octet::client {

struct LoadOptions {
  std::string model;
  int64_t version = 0;  // 0: the default version
  // Every request sends these (their first axis is the batch).
  std::vector<std::pair<std::string, Tensor>> inputs;
  // Requests in flight at once; each starts the next when its answer arrives.
  int concurrency = 1;
  // Requests sent first and not counted (plans are built on first use of a shape).
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration duration = absl::Seconds(10);
  // Stops earlier after this many counted requests (0: no limit).
  int64_t max_requests = 0;
  // Each request's deadline (infinite: none).
  absl::Duration timeout = absl::InfiniteDuration();
};

struct LoadResult {
  int concurrency = 0;
  int64_t rows_per_request = 0;
  double seconds = 0;  // the counted period
  int64_t ok = 0;
  int64_t errors = 0;
  std::map<std::string, int64_t> errors_by_code;  // "RESOURCE_EXHAUSTED" -> count
  std::string first_error;                        // the first error's message, if any
  std::string served_version;                     // as the answers name it
  // Round-trip times of the successful requests, in ms.
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;

  double requests_per_s() const { return seconds > 0 ? (ok + errors) / seconds : 0; }
  double images_per_s() const { return seconds > 0 ? ok * rows_per_request / seconds : 0; }
};

// Runs the load. INVALID_ARGUMENT for options out of range; the requests' own failures are
// counted, not returned.
absl::StatusOr<LoadResult> RunLoad(const std::shared_ptr<grpc::Channel>& channel,
                                   const LoadOptions& options);

// The means of the server's histograms for one model version over an interval.
struct ServerTimes {
  int64_t requests = 0;
  double request_ms = 0;  // octet_inference_request_duration_seconds
  double queue_ms = 0;    // octet_inference_queue_duration_seconds
  double compute_ms = 0;  // octet_inference_compute_duration_seconds
  int64_t batches = 0;
  double batch_rows = 0;  // octet_inference_batch_rows
};

// The sums and counts of those histograms for `model` / `version`, as scraped from a Prometheus
// text exposition.
class ServerHistograms {
 public:
  // Fetches `url` (http://HOST:PORT/metrics).
  static absl::StatusOr<ServerHistograms> Scrape(const std::string& url);
  // Parses an exposition already fetched.
  static ServerHistograms Parse(const std::string& text);

  // The means over the requests between `before` and this scrape.
  ServerTimes Since(const ServerHistograms& before, const std::string& model,
                    const std::string& version) const;

 private:
  // "metric_sum{model,version}" -> value, for the families above (labels other than model and
  // version summed over).
  std::map<std::string, double> values_;
};

}  // namespace octet::client

#endif  // OCTET_CLIENT_LOAD_GENERATOR_H_
