#include "client/octet_client.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"

namespace octet::client {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// Streams `header` and then the file at `path` in chunks over a client-streaming call, and
// returns the call's status. `message` holds the header (a oneof with `chunk`); `set_chunk`
// replaces it with each chunk in turn.
template <typename Writer, typename Message, typename SetChunk>
absl::Status StreamFile(std::ifstream& in, Writer& writer, Message message, SetChunk set_chunk) {
  bool open = writer->Write(message);
  std::string buffer(kChunkBytes, '\0');
  while (open && in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() == 0) break;
    set_chunk(message, absl::string_view(buffer.data(), static_cast<size_t>(in.gcount())));
    // A false Write means the server already ended the call; Finish says why.
    open = writer->Write(message);
  }
  writer->WritesDone();
  return FromGrpc(writer->Finish());
}

// Every item of a paged List call: asks for the next page until the token comes back empty.
// `call(context, request, response)` makes the RPC; `items` is the response's repeated field.
template <typename Request, typename Response, typename Item, typename Call>
absl::StatusOr<std::vector<Item>> ListAllPages(
    Request request, Call call,
    const google::protobuf::RepeatedPtrField<Item>& (Response::*items)() const) {
  std::vector<Item> all;
  do {
    grpc::ClientContext context;
    Response response;
    if (absl::Status s = FromGrpc(call(&context, request, &response)); !s.ok()) return s;
    all.insert(all.end(), (response.*items)().begin(), (response.*items)().end());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return all;
}

}  // namespace

OctetClient::OctetClient(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  channel_ = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  health_ = grpc::health::v1::Health::NewStub(channel_);
  models_ = octet::v1::ModelService::NewStub(channel_);
  datasets_ = octet::v1::DatasetService::NewStub(channel_);
  jobs_ = octet::v1::QuantizationService::NewStub(channel_);
  inference_ = inference::GRPCInferenceService::NewStub(channel_);
}

absl::StatusOr<std::string> OctetClient::Health() {
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  if (absl::Status s = FromGrpc(health_->Check(&context, request, &response)); !s.ok()) return s;
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

absl::StatusOr<inference::ServerMetadataResponse> OctetClient::ServerMetadata() {
  grpc::ClientContext context;
  inference::ServerMetadataResponse response;
  if (absl::Status s = FromGrpc(inference_->ServerMetadata(&context, {}, &response)); !s.ok()) {
    return s;
  }
  return response;
}

absl::StatusOr<octet::v1::UploadModelResponse> OctetClient::UploadModel(
    const std::string& path, const std::string& name, const std::string& description,
    bool new_version) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  grpc::ClientContext context;
  octet::v1::UploadModelResponse response;
  auto writer = models_->UploadModel(&context, &response);
  octet::v1::UploadModelRequest message;
  message.mutable_header()->set_name(name);
  message.mutable_header()->set_description(description);
  message.mutable_header()->set_new_version(new_version);
  if (absl::Status s = StreamFile(in, writer, message,
                                  [](octet::v1::UploadModelRequest& m, absl::string_view chunk) {
                                    m.set_chunk(std::string(chunk));
                                  });
      !s.ok()) {
    return s;
  }
  return response;
}

absl::StatusOr<std::vector<octet::v1::Model>> OctetClient::ListModels() {
  octet::v1::ListModelsRequest request;
  return ListAllPages(
      request,
      [this](grpc::ClientContext* context, const octet::v1::ListModelsRequest& r,
             octet::v1::ListModelsResponse* response) {
        return models_->ListModels(context, r, response);
      },
      &octet::v1::ListModelsResponse::models);
}

absl::StatusOr<octet::v1::Model> OctetClient::GetModel(const std::string& name) {
  grpc::ClientContext context;
  octet::v1::GetModelRequest request;
  request.set_name(name);
  octet::v1::Model response;
  if (absl::Status s = FromGrpc(models_->GetModel(&context, request, &response)); !s.ok()) return s;
  return response;
}

absl::StatusOr<octet::v1::ModelRuntime> OctetClient::DescribeRuntime(
    const std::string& name, int64_t version, int64_t batch_size,
    const std::vector<std::pair<std::string, std::vector<int64_t>>>& input_shapes) {
  grpc::ClientContext context;
  octet::v1::DescribeRuntimeRequest request;
  request.set_name(name);
  request.set_version(version);
  request.set_batch_size(batch_size);
  for (const auto& [input, dims] : input_shapes) {
    octet::v1::InputShape* shape = request.add_input_shapes();
    shape->set_name(input);
    for (int64_t d : dims) shape->add_dims(d);
  }
  octet::v1::ModelRuntime response;
  if (absl::Status s = FromGrpc(models_->DescribeRuntime(&context, request, &response)); !s.ok()) {
    return s;
  }
  return response;
}

absl::StatusOr<std::vector<int64_t>> OctetClient::DeleteModel(const std::string& name,
                                                              int64_t version) {
  grpc::ClientContext context;
  octet::v1::DeleteModelRequest request;
  request.set_name(name);
  request.set_version(version);
  octet::v1::DeleteModelResponse response;
  if (absl::Status s = FromGrpc(models_->DeleteModel(&context, request, &response)); !s.ok()) {
    return s;
  }
  return std::vector<int64_t>(response.deleted_versions().begin(),
                              response.deleted_versions().end());
}

absl::StatusOr<octet::v1::Model> OctetClient::SetDefaultVersion(const std::string& name,
                                                                int64_t version) {
  grpc::ClientContext context;
  octet::v1::SetDefaultVersionRequest request;
  request.set_name(name);
  request.set_version(version);
  octet::v1::Model response;
  if (absl::Status s = FromGrpc(models_->SetDefaultVersion(&context, request, &response));
      !s.ok()) {
    return s;
  }
  return response;
}

absl::StatusOr<octet::v1::Model> OctetClient::SetServingConfig(
    const std::string& name, const octet::v1::ServingConfig& config) {
  grpc::ClientContext context;
  octet::v1::SetServingConfigRequest request;
  request.set_name(name);
  *request.mutable_serving() = config;
  octet::v1::Model response;
  if (absl::Status s = FromGrpc(models_->SetServingConfig(&context, request, &response)); !s.ok()) {
    return s;
  }
  return response;
}

absl::StatusOr<octet::v1::DriftReport> OctetClient::GetDrift(const std::string& name,
                                                             int64_t version) {
  grpc::ClientContext context;
  octet::v1::GetDriftRequest request;
  request.set_name(name);
  request.set_version(version);
  octet::v1::DriftReport response;
  if (absl::Status s = FromGrpc(models_->GetDrift(&context, request, &response)); !s.ok()) {
    return s;
  }
  return response;
}

absl::StatusOr<octet::v1::ModelVersion> OctetClient::DownloadModel(const std::string& name,
                                                                   int64_t version,
                                                                   const std::string& path) {
  grpc::ClientContext context;
  octet::v1::DownloadModelRequest request;
  request.set_name(name);
  request.set_version(version);
  auto reader = models_->DownloadModel(&context, request);
  const std::string temp = path + ".part";
  std::ofstream out(temp, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot create ", temp));
  octet::v1::ModelVersion header;
  octet::v1::DownloadModelResponse message;
  int64_t received = 0;
  while (reader->Read(&message)) {
    if (message.has_version()) header = message.version();
    if (message.has_chunk()) {
      out.write(message.chunk().data(), static_cast<std::streamsize>(message.chunk().size()));
      received += static_cast<int64_t>(message.chunk().size());
    }
  }
  out.close();
  absl::Status status = FromGrpc(reader->Finish());
  if (status.ok() && !out) status = absl::DataLossError(absl::StrCat("cannot write ", temp));
  if (status.ok() && received != header.size_bytes()) {
    status =
        absl::DataLossError(absl::StrCat("received ", received, " bytes of ", header.size_bytes()));
  }
  if (!status.ok()) {
    std::remove(temp.c_str());
    return status;
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot move the download to ", path));
  }
  return header;
}

absl::StatusOr<inference::ModelMetadataResponse> OctetClient::ModelMetadata(const std::string& name,
                                                                            int64_t version) {
  grpc::ClientContext context;
  inference::ModelMetadataRequest request;
  request.set_name(name);
  if (version > 0) request.set_version(absl::StrCat(version));
  inference::ModelMetadataResponse response;
  if (absl::Status s = FromGrpc(inference_->ModelMetadata(&context, request, &response)); !s.ok()) {
    return s;
  }
  return response;
}

absl::StatusOr<InferResult> OctetClient::Infer(
    const std::string& model, int64_t version,
    const std::vector<std::pair<std::string, Tensor>>& inputs,
    const std::vector<std::string>& outputs) {
  inference::ModelInferRequest request;
  request.set_model_name(model);
  if (version > 0) request.set_model_version(absl::StrCat(version));
  for (const auto& [name, tensor] : inputs) {
    auto* input = request.add_inputs();
    input->set_name(name);
    input->set_datatype(std::string(KserveName(tensor.type())));
    for (int64_t d : tensor.shape()) input->add_shape(d);
    request.add_raw_input_contents(static_cast<const char*>(tensor.raw_data()), tensor.byte_size());
  }
  for (const std::string& name : outputs) request.add_outputs()->set_name(name);
  grpc::ClientContext context;
  inference::ModelInferResponse response;
  if (absl::Status s = FromGrpc(inference_->ModelInfer(&context, request, &response)); !s.ok()) {
    return s;
  }
  InferResult result{response.model_name(), response.model_version(), response.id(), {}};
  for (int i = 0; i < response.outputs_size(); ++i) {
    const auto& output = response.outputs(i);
    const std::optional<DataType> type = DataTypeFromKserveName(output.datatype());
    if (!type.has_value() || i >= response.raw_output_contents_size()) {
      return absl::DataLossError(absl::StrCat("output '", output.name(), "' is malformed"));
    }
    const std::string& bytes = response.raw_output_contents(i);
    absl::StatusOr<Tensor> tensor = Tensor::FromBytes(
        *type, Shape(output.shape().begin(), output.shape().end()), bytes.data(), bytes.size());
    if (!tensor.ok()) return tensor.status();
    result.outputs.emplace_back(output.name(), *std::move(tensor));
  }
  return result;
}

absl::StatusOr<octet::v1::Dataset> OctetClient::UploadDataset(const std::string& path,
                                                              const std::string& name,
                                                              const std::string& description) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  grpc::ClientContext context;
  octet::v1::Dataset response;
  auto writer = datasets_->UploadDataset(&context, &response);
  octet::v1::UploadDatasetRequest message;
  message.mutable_header()->set_name(name);
  message.mutable_header()->set_description(description);
  if (absl::Status s = StreamFile(in, writer, message,
                                  [](octet::v1::UploadDatasetRequest& m, absl::string_view chunk) {
                                    m.set_chunk(std::string(chunk));
                                  });
      !s.ok()) {
    return s;
  }
  return response;
}

absl::StatusOr<std::vector<octet::v1::Dataset>> OctetClient::ListDatasets() {
  octet::v1::ListDatasetsRequest request;
  return ListAllPages(
      request,
      [this](grpc::ClientContext* context, const octet::v1::ListDatasetsRequest& r,
             octet::v1::ListDatasetsResponse* response) {
        return datasets_->ListDatasets(context, r, response);
      },
      &octet::v1::ListDatasetsResponse::datasets);
}

absl::StatusOr<octet::v1::Dataset> OctetClient::GetDataset(const std::string& name) {
  grpc::ClientContext context;
  octet::v1::GetDatasetRequest request;
  request.set_name(name);
  octet::v1::Dataset response;
  if (absl::Status s = FromGrpc(datasets_->GetDataset(&context, request, &response)); !s.ok()) {
    return s;
  }
  return response;
}

absl::Status OctetClient::DeleteDataset(const std::string& name) {
  grpc::ClientContext context;
  octet::v1::DeleteDatasetRequest request;
  request.set_name(name);
  octet::v1::DeleteDatasetResponse response;
  return FromGrpc(datasets_->DeleteDataset(&context, request, &response));
}

absl::StatusOr<octet::v1::Job> OctetClient::CreateJob(const octet::v1::CreateJobRequest& request) {
  grpc::ClientContext context;
  octet::v1::Job response;
  if (absl::Status s = FromGrpc(jobs_->CreateJob(&context, request, &response)); !s.ok()) return s;
  return response;
}

absl::StatusOr<octet::v1::Job> OctetClient::GetJob(const std::string& id) {
  grpc::ClientContext context;
  octet::v1::GetJobRequest request;
  request.set_id(id);
  octet::v1::Job response;
  if (absl::Status s = FromGrpc(jobs_->GetJob(&context, request, &response)); !s.ok()) return s;
  return response;
}

absl::StatusOr<std::vector<octet::v1::Job>> OctetClient::ListJobs(const std::string& model,
                                                                  octet::v1::JobState state) {
  octet::v1::ListJobsRequest request;
  request.set_model(model);
  request.set_state(state);
  return ListAllPages(
      request,
      [this](grpc::ClientContext* context, const octet::v1::ListJobsRequest& r,
             octet::v1::ListJobsResponse* response) {
        return jobs_->ListJobs(context, r, response);
      },
      &octet::v1::ListJobsResponse::jobs);
}

absl::StatusOr<octet::v1::Job> OctetClient::CancelJob(const std::string& id) {
  grpc::ClientContext context;
  octet::v1::CancelJobRequest request;
  request.set_id(id);
  octet::v1::Job response;
  if (absl::Status s = FromGrpc(jobs_->CancelJob(&context, request, &response)); !s.ok()) return s;
  return response;
}

absl::StatusOr<octet::v1::Job> OctetClient::WatchJob(
    const std::string& id, const std::function<void(const octet::v1::Job&)>& on_change) {
  grpc::ClientContext context;
  octet::v1::WatchJobRequest request;
  request.set_id(id);
  auto reader = jobs_->WatchJob(&context, request);
  octet::v1::Job job;
  bool any = false;
  while (reader->Read(&job)) {
    any = true;
    on_change(job);
  }
  if (absl::Status s = FromGrpc(reader->Finish()); !s.ok()) return s;
  if (!any) return absl::DataLossError("the watch ended without sending the job");
  return job;
}

}  // namespace octet::client
