#include "server/services/model_service.h"

#include <algorithm>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "server/core/runtime_description.h"
#include "server/services/grpc_status.h"
#include "server/services/request_checks.h"

namespace octet::server {
namespace {

constexpr size_t kDownloadChunkBytes = 1 << 20;

grpc::Status CheckVersionField(int64_t version, bool zero_allowed) {
  if (version < 0 || (!zero_allowed && version == 0)) {
    return InvalidArgument(absl::StrCat("version must be ", zero_allowed ? "0 or more" : "positive",
                                        ", got ", version));
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ModelServiceImpl::UploadModel(
    grpc::ServerContext*, grpc::ServerReader<octet::v1::UploadModelRequest>* reader,
    octet::v1::UploadModelResponse* response) {
  octet::v1::UploadModelRequest message;
  if (grpc::Status s = ReadUploadHeader(reader, &message, "UploadModel"); !s.ok()) return s;
  const octet::v1::UploadModelHeader header = message.header();
  if (absl::Status s = ValidateName(header.name(), "header.name"); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<std::unique_ptr<BlobStore::Writer>> blob = blobs_->NewWriter(max_model_bytes_);
  if (!blob.ok()) return ToGrpcStatus(blob.status());
  while (reader->Read(&message)) {
    if (!message.has_chunk())
      return InvalidArgument("only chunks may follow the UploadModel header");
    if (absl::Status s = (*blob)->Append(message.chunk()); !s.ok()) return ToGrpcStatus(s);
  }
  absl::StatusOr<AddedVersion> added =
      registry_->Upload(header.name(), header.description(), header.new_version(), **blob);
  if (!added.ok()) return ToGrpcStatus(added.status());
  *response->mutable_version() = added->version;
  response->set_created(added->created);
  return grpc::Status::OK;
}

grpc::Status ModelServiceImpl::DownloadModel(
    grpc::ServerContext* context, const octet::v1::DownloadModelRequest* request,
    grpc::ServerWriter<octet::v1::DownloadModelResponse>* writer) {
  if (grpc::Status s = CheckVersionField(request->version(), true); !s.ok()) return s;
  absl::StatusOr<octet::v1::ModelVersion> version =
      registry_->store().GetVersion(request->name(), request->version());
  if (!version.ok()) return ToGrpcStatus(version.status());
  std::ifstream in(blobs_->PathFor(version->sha256()), std::ios::binary);
  if (!in) return grpc::Status(grpc::StatusCode::DATA_LOSS, "the stored model file is missing");
  octet::v1::DownloadModelResponse chunk;
  *chunk.mutable_version() = *version;
  writer->Write(chunk);
  std::string buffer(kDownloadChunkBytes, '\0');
  while (in && !context->IsCancelled()) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() == 0) break;
    chunk.set_chunk(buffer.data(), static_cast<size_t>(in.gcount()));
    if (!writer->Write(chunk)) break;
  }
  return grpc::Status::OK;
}

grpc::Status ModelServiceImpl::GetModel(grpc::ServerContext*,
                                        const octet::v1::GetModelRequest* request,
                                        octet::v1::Model* response) {
  return Respond(registry_->store().GetModel(request->name()), response);
}

grpc::Status ModelServiceImpl::DescribeRuntime(grpc::ServerContext*,
                                               const octet::v1::DescribeRuntimeRequest* request,
                                               octet::v1::ModelRuntime* response) {
  absl::StatusOr<std::shared_ptr<const LoadedModel>> loaded =
      registry_->Get(request->name(), request->version());
  if (!loaded.ok()) return ToGrpcStatus(loaded.status());
  absl::StatusOr<octet::v1::ModelRuntime> description;
  const absl::Status ran = registry_->Compute([&] {
    description = octet::server::DescribeRuntime(**loaded, *request);
    return absl::OkStatus();
  });
  if (!ran.ok()) return ToGrpcStatus(ran);
  return Respond(std::move(description), response);
}

grpc::Status ModelServiceImpl::ListModels(grpc::ServerContext*,
                                          const octet::v1::ListModelsRequest* request,
                                          octet::v1::ListModelsResponse* response) {
  absl::StatusOr<int> page_size = PageSize(request->page_size());
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  absl::StatusOr<ModelStore::Page> page =
      registry_->store().ListModels(*page_size, request->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (octet::v1::Model& model : page->models) *response->add_models() = std::move(model);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status ModelServiceImpl::DeleteModel(grpc::ServerContext*,
                                           const octet::v1::DeleteModelRequest* request,
                                           octet::v1::DeleteModelResponse* response) {
  if (grpc::Status s = CheckVersionField(request->version(), true); !s.ok()) return s;
  absl::StatusOr<std::vector<int64_t>> deleted =
      registry_->Delete(request->name(), request->version());
  if (!deleted.ok()) return ToGrpcStatus(deleted.status());
  for (int64_t v : *deleted) response->add_deleted_versions(v);
  return grpc::Status::OK;
}

grpc::Status ModelServiceImpl::SetDefaultVersion(grpc::ServerContext*,
                                                 const octet::v1::SetDefaultVersionRequest* request,
                                                 octet::v1::Model* response) {
  if (grpc::Status s = CheckVersionField(request->version(), false); !s.ok()) return s;
  return Respond(registry_->SetDefaultVersion(request->name(), request->version()), response);
}

grpc::Status ModelServiceImpl::SetServingConfig(grpc::ServerContext*,
                                                const octet::v1::SetServingConfigRequest* request,
                                                octet::v1::Model* response) {
  return Respond(registry_->SetServingConfig(request->name(), request->serving()), response);
}

grpc::Status ModelServiceImpl::GetDrift(grpc::ServerContext*,
                                        const octet::v1::GetDriftRequest* request,
                                        octet::v1::DriftReport* response) {
  if (request->version() < 0) {
    return ToGrpcStatus(absl::InvalidArgumentError("version must not be negative"));
  }
  return Respond(drift_->Report(request->name(), request->version()), response);
}

}  // namespace octet::server
