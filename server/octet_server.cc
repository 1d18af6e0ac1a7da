#include "server/octet_server.h"

#include <exception>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "server/core/drift_monitor.h"
#include "server/core/inference_scheduler.h"
#include "server/core/job_runner.h"
#include "server/core/model_registry.h"
#include "server/metrics/drift_metrics.h"
#include "server/metrics/server_metrics.h"
#include "server/services/dataset_service.h"
#include "server/services/inference_service.h"
#include "server/services/model_service.h"
#include "server/services/quantization_service.h"
#include "server/store/dataset_store.h"
#include "server/store/job_store.h"
#include "server/store/model_store.h"
#include "server/store/storage.h"

namespace octet::server {

// Declared in the order they are built; destroyed in reverse, so the gRPC server stops before
// anything it calls goes away.
struct OctetServer::Parts {
  std::shared_ptr<prometheus::Registry> metrics_registry;
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<DriftMetrics> drift_metrics;
  std::unique_ptr<Storage> storage;
  std::unique_ptr<ModelStore> model_store;
  std::unique_ptr<DatasetStore> dataset_store;
  std::unique_ptr<DatasetCatalog> dataset_catalog;
  std::unique_ptr<JobStore> job_store;
  std::unique_ptr<ModelRegistry> model_registry;
  std::unique_ptr<InferenceScheduler> scheduler;
  std::unique_ptr<JobRunner> job_runner;
  std::unique_ptr<DriftMonitor> drift_monitor;
  std::unique_ptr<ModelServiceImpl> model_service;
  std::unique_ptr<InferenceServiceImpl> inference_service;
  std::unique_ptr<DatasetServiceImpl> dataset_service;
  std::unique_ptr<QuantizationServiceImpl> quantization_service;
  std::unique_ptr<prometheus::Exposer> exposer;
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;
};

OctetServer::OctetServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

OctetServer::~OctetServer() {
  if (parts_->job_runner != nullptr) parts_->job_runner->Shutdown();
  if (parts_->grpc_server != nullptr) parts_->grpc_server->Shutdown();
  if (parts_->scheduler != nullptr) parts_->scheduler->Shutdown();
}

namespace {

absl::Status ValidateOptions(const ServerOptions& options) {
  if (options.inference_workers < 1) {
    return absl::InvalidArgumentError("inference_workers must be at least 1");
  }
  if (options.job_workers < 1 || options.job_queue_capacity < 1 || options.job_retry_limit < 1) {
    return absl::InvalidArgumentError(
        "job_workers, job_queue_capacity and job_retry_limit must be at least 1");
  }
  if (options.max_model_bytes < 1 || options.max_dataset_bytes < 1 ||
      options.max_request_bytes < 1 ||
      options.max_request_bytes > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError(
        "max_model_bytes and max_request_bytes must be positive "
        "(max_request_bytes below 2 GiB)");
  }
  if (options.max_batch_size < 1 || options.max_queue_size < 1 || options.max_queue_delay_us < 0) {
    return absl::InvalidArgumentError(
        "max_batch_size and max_queue_size must be at least 1, max_queue_delay_us not negative");
  }
  if (!(options.drift_sample_rate >= 0.0 && options.drift_sample_rate <= 1.0) ||
      !(options.drift_max_per_second >= 0.0) ||
      !(options.drift_max_compute_share >= 0.0 && options.drift_max_compute_share <= 1.0) ||
      options.drift_window_seconds < 1 || options.drift_queue_size < 0) {
    return absl::InvalidArgumentError(
        "drift_sample_rate and drift_max_compute_share must be within 0 to 1, "
        "drift_max_per_second and drift_queue_size not negative, drift_window_seconds at least 1");
  }

  return absl::OkStatus();
}

// OpenMP threads of each inference computation: as asked, else the cores shared among the
// workers.
int InferenceThreads(const ServerOptions& options) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return options.inference_threads > 0 ? options.inference_threads
                                       : std::max(1, cores / options.inference_workers);
}

}  // namespace

// Metrics, the data directory and its stores.
absl::Status OctetServer::OpenStores(const ServerOptions& options, Parts* parts) {
  parts->metrics_registry = std::make_shared<prometheus::Registry>();
  parts->metrics = std::make_unique<ServerMetrics>(*parts->metrics_registry);
  parts->drift_metrics = std::make_unique<DriftMetrics>(*parts->metrics_registry);
  OCTET_ASSIGN_OR_RETURN(parts->storage, Storage::Open(options.data_dir));
  for (const std::string& sha256 : parts->storage->corrupt_blobs()) {
    absl::MutexLock lock(&parts->storage->mu());
    absl::StatusOr<std::string> names = parts->storage->DescribeReferences(sha256);
    std::cerr << "octetd: the stored file " << sha256
              << " does not match its sha256; it will not be served or used ("
              << (names.ok() ? *names : std::string(names.status().message())) << ")" << std::endl;
  }
  parts->model_store = std::make_unique<ModelStore>(parts->storage.get());
  parts->dataset_store = std::make_unique<DatasetStore>(parts->storage.get());
  parts->job_store = std::make_unique<JobStore>(parts->storage.get());
  return absl::OkStatus();
}

// The core (registry, executor, job runner, dataset catalog) and the services over it.
absl::Status OctetServer::StartCore(const ServerOptions& options, Parts* parts) {
  const int threads = InferenceThreads(options);
  SessionOptions session_options;
  session_options.num_threads = threads;
  session_options.plan_cache_capacity = options.plan_cache_capacity;
  BatchingPolicy batching;
  batching.max_batch_size = options.max_batch_size;
  batching.max_queue_delay = absl::Microseconds(options.max_queue_delay_us);
  parts->model_registry = std::make_unique<ModelRegistry>(
      parts->model_store.get(), &parts->storage->blobs(), session_options, batching);
  InferenceScheduler::Options scheduling;
  scheduling.workers = options.inference_workers;
  scheduling.threads = threads;
  scheduling.max_queue_size = options.max_queue_size;
  scheduling.max_background = options.drift_queue_size;
  parts->scheduler = std::make_unique<InferenceScheduler>(scheduling, parts->metrics.get());
  // Sessions and plans are built on the workers too: every OpenMP team of the process forms there.
  parts->model_registry->SetComputeRunner(
      [scheduler = parts->scheduler.get()](const std::function<absl::Status()>& work) {
        return scheduler->RunTask(work);
      });
  JobRunnerOptions job_options;
  job_options.workers = options.job_workers;
  // Job batches run on the inference workers, so by default with as many threads.
  job_options.execution.threads_per_job = options.job_threads > 0 ? options.job_threads : threads;
  job_options.queue_capacity = options.job_queue_capacity;
  job_options.retry_limit = options.job_retry_limit;
  job_options.execution.max_dataset_bytes = options.max_dataset_bytes;
  job_options.execution.octet_version = OCTET_VERSION;
  job_options.execution.abort_in_calibration = options.testing_abort_in_calibration;
  parts->job_runner = std::make_unique<JobRunner>(
      job_options, parts->storage.get(), parts->job_store.get(), parts->dataset_store.get(),
      parts->model_registry.get(), parts->scheduler.get(), parts->metrics.get());
  OCTET_RETURN_IF_ERROR(parts->job_runner->Start());
  DriftOptions drift;
  drift.sample_rate = options.drift_sample_rate;
  drift.max_per_second = options.drift_max_per_second;
  drift.max_compute_share = options.drift_max_compute_share;
  drift.window = absl::Seconds(options.drift_window_seconds);
  drift.session_options = session_options;
  parts->drift_monitor = std::make_unique<DriftMonitor>(
      drift, parts->model_registry.get(), parts->scheduler.get(),
      [runner = parts->job_runner.get()](const std::string& id) { return runner->Get(id); },
      parts->drift_metrics.get());
  parts->model_registry->SetDeletionListener(
      [monitor = parts->drift_monitor.get()](const std::string& name,
                                             const std::vector<int64_t>& deleted) {
        monitor->Forget(name, deleted);
      });
  parts->model_service =
      std::make_unique<ModelServiceImpl>(parts->model_registry.get(), &parts->storage->blobs(),
                                         parts->drift_monitor.get(), options.max_model_bytes);
  parts->inference_service = std::make_unique<InferenceServiceImpl>(
      parts->model_registry.get(), parts->scheduler.get(), parts->drift_monitor.get(),
      parts->metrics.get(), OCTET_VERSION);
  parts->dataset_catalog = std::make_unique<DatasetCatalog>(
      parts->dataset_store.get(), &parts->storage->blobs(), options.max_dataset_bytes);
  parts->dataset_service = std::make_unique<DatasetServiceImpl>(parts->dataset_catalog.get());
  parts->quantization_service =
      std::make_unique<QuantizationServiceImpl>(parts->job_runner.get(), parts->job_store.get());

  return absl::OkStatus();
}

// The metrics endpoint and the gRPC server.
absl::Status OctetServer::StartServing(const ServerOptions& options, Parts* parts) {
  try {
    parts->exposer = std::make_unique<prometheus::Exposer>(options.metrics_address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", options.metrics_address, ": ", e.what()));
  }
  parts->exposer->RegisterCollectable(parts->metrics_registry);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.grpc_address, grpc::InsecureServerCredentials(),
                           &parts->grpc_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_request_bytes));
  builder.SetMaxSendMessageSize(std::numeric_limits<int>::max());
  // A connection that never finishes the HTTP/2 handshake would otherwise hold shutdown (and a
  // connection slot) for gRPC's default of 120 s.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 5000);
  // gRPC sets SO_REUSEPORT by default: a second server on a port another one holds would start
  // without an error and the kernel would split connections between the two; and two servers
  // asking for port 0 at once can be given the same port (grpc/grpc#10755, seen as cross-talk
  // between tests). One port, one server: a taken port fails the start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(parts->model_service.get());
  builder.RegisterService(parts->inference_service.get());
  builder.RegisterService(parts->dataset_service.get());
  builder.RegisterService(parts->quantization_service.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<MetricsInterceptorFactory>(parts->metrics.get()));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  parts->grpc_server = builder.BuildAndStart();
  if (parts->grpc_server == nullptr || parts->grpc_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", options.grpc_address));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<OctetServer>> OctetServer::Start(const ServerOptions& options) {
  OCTET_RETURN_IF_ERROR(ValidateOptions(options));
  auto parts = std::make_unique<Parts>();
  OCTET_RETURN_IF_ERROR(OpenStores(options, parts.get()));
  OCTET_RETURN_IF_ERROR(StartCore(options, parts.get()));
  OCTET_RETURN_IF_ERROR(StartServing(options, parts.get()));
  return std::unique_ptr<OctetServer>(new OctetServer(std::move(parts)));
}

int OctetServer::grpc_port() const { return parts_->grpc_port; }

int OctetServer::metrics_port() const {
  const std::vector<int> ports = parts_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void OctetServer::Shutdown(absl::Duration grace) {
  // Jobs first: a running one stops within a calibration batch and is queued again, so that the
  // RPCs drained next (watchers included) see it settled.
  parts_->job_runner->Shutdown();
  parts_->grpc_server->Shutdown(std::chrono::system_clock::now() + absl::ToChronoSeconds(grace));
  // Requests still queued after the grace get UNAVAILABLE; computations in progress end.
  parts_->scheduler->Shutdown();
}

void OctetServer::Wait() { parts_->grpc_server->Wait(); }

}  // namespace octet::server
