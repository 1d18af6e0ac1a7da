#include "server/octet_server.h"

#include <exception>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "server/metrics/server_metrics.h"
#include "server/services/inference_service.h"
#include "server/services/model_service.h"
#include "server/serving/inference_executor.h"
#include "server/serving/model_registry.h"
#include "server/store/model_store.h"
#include "server/store/storage.h"

namespace octet::server {

// Declared in the order they are built; destroyed in reverse, so the gRPC server stops before
// anything it calls goes away.
struct OctetServer::Parts {
  std::shared_ptr<prometheus::Registry> metrics_registry;
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<Storage> storage;
  std::unique_ptr<ModelStore> model_store;
  std::unique_ptr<ModelRegistry> model_registry;
  std::unique_ptr<InferenceExecutor> executor;
  std::unique_ptr<ModelServiceImpl> model_service;
  std::unique_ptr<InferenceServiceImpl> inference_service;
  std::unique_ptr<prometheus::Exposer> exposer;
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;
};

OctetServer::OctetServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

OctetServer::~OctetServer() {
  if (parts_->grpc_server != nullptr) parts_->grpc_server->Shutdown();
}

absl::StatusOr<std::unique_ptr<OctetServer>> OctetServer::Start(const ServerOptions& options) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (options.inference_workers < 1) {
    return absl::InvalidArgumentError("inference_workers must be at least 1");
  }
  const int threads = options.inference_threads > 0
                          ? options.inference_threads
                          : std::max(1, cores / options.inference_workers);
  if (options.max_model_bytes < 1 || options.max_request_bytes < 1 ||
      options.max_request_bytes > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError("max_model_bytes and max_request_bytes must be positive "
                                      "(max_request_bytes below 2 GiB)");
  }

  auto parts = std::make_unique<Parts>();
  parts->metrics_registry = std::make_shared<prometheus::Registry>();
  parts->metrics = std::make_unique<ServerMetrics>(*parts->metrics_registry);
  OCTET_ASSIGN_OR_RETURN(parts->storage, Storage::Open(options.data_dir));
  parts->model_store = std::make_unique<ModelStore>(parts->storage.get());
  SessionOptions session_options;
  session_options.num_threads = threads;
  session_options.plan_cache_capacity = options.plan_cache_capacity;
  parts->model_registry = std::make_unique<ModelRegistry>(
      parts->model_store.get(), &parts->storage->blobs(), session_options);
  parts->executor = std::make_unique<InferenceExecutor>(options.inference_workers);
  parts->model_service = std::make_unique<ModelServiceImpl>(
      parts->model_registry.get(), &parts->storage->blobs(), options.max_model_bytes);
  parts->inference_service = std::make_unique<InferenceServiceImpl>(
      parts->model_registry.get(), parts->executor.get(), parts->metrics.get(), OCTET_VERSION);

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
  builder.RegisterService(parts->model_service.get());
  builder.RegisterService(parts->inference_service.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<MetricsInterceptorFactory>(parts->metrics.get()));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  parts->grpc_server = builder.BuildAndStart();
  if (parts->grpc_server == nullptr || parts->grpc_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve gRPC on ", options.grpc_address));
  }
  return std::unique_ptr<OctetServer>(new OctetServer(std::move(parts)));
}

int OctetServer::grpc_port() const { return parts_->grpc_port; }

int OctetServer::metrics_port() const {
  const std::vector<int> ports = parts_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void OctetServer::Shutdown(absl::Duration grace) {
  parts_->grpc_server->Shutdown(std::chrono::system_clock::now() + absl::ToChronoSeconds(grace));
}

void OctetServer::Wait() { parts_->grpc_server->Wait(); }

}  // namespace octet::server
