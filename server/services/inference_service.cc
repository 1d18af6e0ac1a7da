#include "server/services/inference_service.h"

#include <chrono>

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

std::string PrecisionLabel(octet::v1::Precision precision) {
  switch (precision) {
    case octet::v1::PRECISION_INT8:
      return "int8";
    case octet::v1::PRECISION_WEIGHT_ONLY:
      return "weight_only";
    default:
      return "float";
  }
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

grpc::Status InferenceServiceImpl::ModelInfer(grpc::ServerContext*,
                                              const inference::ModelInferRequest* request,
                                              inference::ModelInferResponse* response) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<int64_t> version = ParseVersion(request->model_version(), "model_version");
  if (!version.ok()) return ToGrpcStatus(version.status());
  absl::StatusOr<std::shared_ptr<const LoadedModel>> model =
      registry_->Get(request->model_name(), *version);
  // Unknown names are not labels: a client must not be able to grow the metric series.
  if (!model.ok()) return ToGrpcStatus(model.status());
  const octet::v1::ModelVersion& served = (*model)->version;

  absl::Status status;
  absl::StatusOr<std::vector<NamedTensor>> inputs = InputsFromRequest(*request);
  std::vector<std::string> output_names;
  for (const auto& output : request->outputs()) output_names.push_back(output.name());
  if (!inputs.ok()) {
    status = inputs.status();
  } else {
    absl::StatusOr<std::vector<Tensor>> outputs =
        executor_->Run([&] { return (*model)->session->Run(*inputs, output_names); });
    status = outputs.status();
    if (outputs.ok()) {
      response->set_model_name(served.name());
      response->set_model_version(absl::StrCat(served.version()));
      response->set_id(request->id());
      const auto& graph_outputs = (*model)->session->outputs();
      for (size_t i = 0; i < outputs->size(); ++i) {
        AddOutput(output_names.empty() ? graph_outputs[i].name : output_names[i], (*outputs)[i],
                  response);
      }
    }
  }
  const grpc::Status result = ToGrpcStatus(status);
  metrics_->RecordInference(
      served.name(), absl::StrCat(served.version()), PrecisionLabel(served.precision()),
      GrpcCodeName(result.error_code()),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return result;
}

}  // namespace octet::server
