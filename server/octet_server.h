#ifndef OCTET_SERVER_OCTET_SERVER_H_
#define OCTET_SERVER_OCTET_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace octet::server {

struct ServerOptions {
  // Port 0 picks a free port; grpc_port() and metrics_port() tell which.
  std::string grpc_address = "127.0.0.1:8500";
  std::string metrics_address = "127.0.0.1:9464";
  std::string data_dir = "./octet-data";
  int64_t max_model_bytes = int64_t{1} << 30;
  // The largest gRPC message accepted (a ModelInfer request, an upload chunk).
  int64_t max_request_bytes = int64_t{64} << 20;
  // Sessions computing at once, and OpenMP threads each; 0 threads means cores / workers.
  int inference_workers = 1;
  int inference_threads = 0;
  // Dynamic batching (BatchingPolicy), unless a model's own settings say otherwise, and the
  // requests waiting per served version before ModelInfer answers RESOURCE_EXHAUSTED.
  int max_batch_size = 32;
  int64_t max_queue_delay_us = 2000;
  int max_queue_size = 256;
  size_t plan_cache_capacity = 8;
  // Drift monitoring (docs/drift.md): the share of requests to quantized versions run again on
  // their float source, at most this many per second and this share of wall time computing
  // (0: no limit), figures over this window, samples waiting at most.
  double drift_sample_rate = 0.01;
  double drift_max_per_second = 5;
  double drift_max_compute_share = 0.05;
  int64_t drift_window_seconds = 600;
  int drift_queue_size = 64;
  // The largest dataset accepted (the uploaded file, and its arrays once unpacked).
  int64_t max_dataset_bytes = int64_t{1} << 30;
  // Quantization jobs running at once, OpenMP threads of each of their batches (0: as inference;
  // batches run on the inference executor's slots), jobs waiting, and how often a job a crash
  // interrupted is started again.
  int job_workers = 1;
  int job_threads = 0;
  int job_queue_capacity = 16;
  int job_retry_limit = 3;
  // Fault injection for the crash tests (JobExecutorOptions::abort_in_calibration).
  bool testing_abort_in_calibration = false;
};

// octetd: the data directory, the gRPC services and the metrics endpoint, running.
class OctetServer {
 public:
  // Opens the data directory and starts serving. FAILED_PRECONDITION for a data directory that
  // cannot be opened, UNAVAILABLE for an address that cannot be bound, INVALID_ARGUMENT for
  // options out of range.
  static absl::StatusOr<std::unique_ptr<OctetServer>> Start(const ServerOptions& options);
  ~OctetServer();

  int grpc_port() const;
  int metrics_port() const;

  // Returns running jobs to the queue, stops accepting RPCs, lets those in flight finish for up
  // to `grace`, then cancels the rest.
  void Shutdown(absl::Duration grace);
  // Blocks until Shutdown() has completed.
  void Wait();

 private:
  struct Parts;
  explicit OctetServer(std::unique_ptr<Parts> parts);
  // The steps of Start, each adding its parts.
  static absl::Status OpenStores(const ServerOptions& options, Parts* parts);
  static absl::Status StartCore(const ServerOptions& options, Parts* parts);
  static absl::Status StartServing(const ServerOptions& options, Parts* parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_OCTET_SERVER_H_
