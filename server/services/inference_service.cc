#include "server/services/inference_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/core/proto_conversion.h"
#include "server/services/grpc_status.h"
#include "server/services/tensor_conversion.h"

namespace octet::server {
namespace {

// "" selects the default version (0).
absl::StatusOr<int64_t> ParseVersion(const std::string& text, absl::string_view field) {
  if (text.empty()) return 0;
  int64_t version;
  if (!absl::SimpleAtoi(text, &version) || version <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " '", text, "' is not a positive version number"));
  }
  return version;
}

void AddTensorMetadata(const octet::v1::TensorSpec& spec,
                       inference::ModelMetadataResponse::TensorMetadata* out) {
  out->set_name(spec.name());
  const std::optional<DataType> type = FromProto(spec.data_type());
  out->set_datatype(type.has_value() ? std::string(KserveName(*type)) : "");
  for (int64_t d : spec.shape()) out->add_shape(d);
}

}  // namespace

grpc::Status InferenceServiceImpl::ServerLive(grpc::ServerContext*,
                                              const inference::ServerLiveRequest*,
                                              inference::ServerLiveResponse* response) {
  response->set_live(true);
  return grpc::Status::OK;
}

grpc::Status InferenceServiceImpl::ServerReady(grpc::ServerContext*,
                                               const inference::ServerReadyRequest*,
                                               inference::ServerReadyResponse* response) {
  response->set_ready(true);
  return grpc::Status::OK;
}

grpc::Status InferenceServiceImpl::ModelReady(grpc::ServerContext*,
                                              const inference::ModelReadyRequest* request,
                                              inference::ModelReadyResponse* response) {
  absl::StatusOr<int64_t> version = ParseVersion(request->version(), "version");
  if (!version.ok()) return ToGrpcStatus(version.status());
  absl::StatusOr<std::shared_ptr<const LoadedModel>> model =
      registry_->Get(request->name(), *version);
  if (!model.ok() && absl::IsNotFound(model.status())) return ToGrpcStatus(model.status());
  // A stored version that fails to load exists but is not ready.
  response->set_ready(model.ok());
  return grpc::Status::OK;
}

grpc::Status InferenceServiceImpl::ServerMetadata(grpc::ServerContext*,
                                                  const inference::ServerMetadataRequest*,
                                                  inference::ServerMetadataResponse* response) {
  response->set_name("octet");
  response->set_version(server_version_);
  return grpc::Status::OK;
}

grpc::Status InferenceServiceImpl::ModelMetadata(grpc::ServerContext*,
                                                 const inference::ModelMetadataRequest* request,
                                                 inference::ModelMetadataResponse* response) {
  absl::StatusOr<int64_t> version = ParseVersion(request->version(), "version");
  if (!version.ok()) return ToGrpcStatus(version.status());
  absl::StatusOr<octet::v1::Model> model = registry_->store().GetModel(request->name());
  if (!model.ok()) return ToGrpcStatus(model.status());
  absl::StatusOr<octet::v1::ModelVersion> selected =
      registry_->store().GetVersion(request->name(), *version);
  if (!selected.ok()) return ToGrpcStatus(selected.status());
  response->set_name(model->name());
  for (const octet::v1::ModelVersion& v : model->versions()) {
    response->add_versions(absl::StrCat(v.version()));
  }
  response->set_platform("onnx");
  for (const auto& spec : selected->inputs()) AddTensorMetadata(spec, response->add_inputs());
  for (const auto& spec : selected->outputs()) AddTensorMetadata(spec, response->add_outputs());
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* InferenceServiceImpl::ModelInfer(
    grpc::CallbackServerContext* context, const inference::ModelInferRequest* request,
    inference::ModelInferResponse* response) {
  const absl::Time start = absl::Now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<int64_t> version = ParseVersion(request->model_version(), "model_version");
  if (!version.ok()) {
    reactor->Finish(ToGrpcStatus(version.status()));
    return reactor;
  }
  if (std::shared_ptr<const LoadedModel> loaded =
          registry_->Loaded(request->model_name(), *version)) {
    Serve(context, request, response, reactor, std::move(loaded), start);
    return reactor;
  }
  // A version not loaded yet is looked up and loaded on a worker (database, file and engine
  // work), not on this gRPC thread.
  const bool posted = scheduler_->Post(
      [this, context, request, response, reactor, start, version = *version](bool run) {
        if (!run) {
          reactor->Finish(ToGrpcStatus(absl::UnavailableError("the server is shutting down")));
          return;
        }
        absl::StatusOr<std::shared_ptr<const LoadedModel>> model =
            registry_->Get(request->model_name(), version);
        // Unknown names are not labels: a client must not be able to grow the metric series.
        if (!model.ok()) {
          reactor->Finish(ToGrpcStatus(model.status()));
          return;
        }
        Serve(context, request, response, reactor, *std::move(model), start);
      });
  if (!posted) {
    reactor->Finish(ToGrpcStatus(absl::UnavailableError("the server is shutting down")));
  }
  return reactor;
}

void InferenceServiceImpl::Serve(grpc::CallbackServerContext* context,
                                 const inference::ModelInferRequest* request,
                                 inference::ModelInferResponse* response,
                                 grpc::ServerUnaryReactor* reactor,
                                 std::shared_ptr<const LoadedModel> model, absl::Time start) {
  // Counts the request under its model version, whatever its end.
  auto finish = [this, reactor, start, served = model](const absl::Status& status) {
    const grpc::Status result = ToGrpcStatus(status);
    metrics_->RecordInference(served->version.name(), absl::StrCat(served->version.version()),
                              PrecisionLabel(served->version), GrpcCodeName(result.error_code()),
                              absl::ToDoubleSeconds(absl::Now() - start));
    reactor->Finish(result);
  };
  absl::StatusOr<std::vector<NamedTensor>> inputs = InputsFromRequest(*request);
  if (!inputs.ok()) {
    finish(inputs.status());
    return;
  }
  InferenceScheduler::Request work;
  work.model = model;
  work.inputs = *std::move(inputs);
  for (const auto& output : request->outputs()) work.output_names.push_back(output.name());
  work.batching = registry_->Batching(request->model_name());
  work.deadline = absl::FromChrono(context->deadline());
  work.cancelled = [context] { return context->IsCancelled(); };
  // A sampled request keeps its inputs (tensors share their buffers: no copy) for the shadow run
  // that follows its reply.
  std::optional<std::vector<NamedTensor>> sampled;
  if (drift_ != nullptr && drift_->ShouldSample(*model)) sampled = work.inputs;
  work.done = [this, request, response, finish, served = model, names = work.output_names,
               sampled = std::move(sampled)](absl::StatusOr<std::vector<Tensor>> outputs,
                                             const InferenceTiming&) mutable {
    std::vector<NamedTensor> named;
    if (outputs.ok()) {
      response->set_model_name(served->version.name());
      response->set_model_version(absl::StrCat(served->version.version()));
      response->set_id(request->id());
      const auto& graph_outputs = served->session->outputs();
      for (size_t i = 0; i < outputs->size(); ++i) {
        const std::string& name = names.empty() ? graph_outputs[i].name : names[i];
        AddOutput(name, (*outputs)[i], response);
        if (sampled.has_value()) named.emplace_back(name, (*outputs)[i]);
      }
    }
    const bool monitored = outputs.ok() && sampled.has_value();
    finish(outputs.status());
    if (monitored) drift_->Offer(served, *std::move(sampled), std::move(named));
  };
  const absl::Status submitted = scheduler_->Submit(std::move(work));
  if (!submitted.ok()) finish(submitted);
}

}  // namespace octet::server
