#ifndef OCTET_CLIENT_OCTET_CLIENT_H_
#define OCTET_CLIENT_OCTET_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor/tensor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "inference/open_inference_grpc.grpc.pb.h"
#include "octet/v1/model_service.grpc.pb.h"

namespace octet::client {

struct InferResult {
  std::string model_name;
  std::string model_version;
  std::string id;
  std::vector<std::pair<std::string, Tensor>> outputs;
};

// A connection to octetd. Every call returns the server's status (code and message) on failure.
// Thread-safe, as gRPC stubs are.
class OctetClient {
 public:
  // `target` is HOST:PORT.
  explicit OctetClient(const std::string& target);

  // The health service's status of the whole server ("SERVING", ...).
  absl::StatusOr<std::string> Health();
  absl::StatusOr<inference::ServerMetadataResponse> ServerMetadata();

  // Streams the file in 1 MiB chunks.
  absl::StatusOr<octet::v1::UploadModelResponse> UploadModel(const std::string& path,
                                                             const std::string& name,
                                                             const std::string& description,
                                                             bool new_version);
  absl::StatusOr<std::vector<octet::v1::Model>> ListModels();
  absl::StatusOr<octet::v1::Model> GetModel(const std::string& name);
  absl::StatusOr<std::vector<int64_t>> DeleteModel(const std::string& name, int64_t version);
  absl::StatusOr<octet::v1::Model> SetDefaultVersion(const std::string& name, int64_t version);
  // Writes the version's file to `path` (through a temporary file, renamed when complete).
  absl::StatusOr<octet::v1::ModelVersion> DownloadModel(const std::string& name, int64_t version,
                                                        const std::string& path);

  absl::StatusOr<inference::ModelMetadataResponse> ModelMetadata(const std::string& name,
                                                                 int64_t version);
  // Inputs travel in raw_input_contents. `version` 0 uses the default; empty `outputs` asks for
  // all.
  absl::StatusOr<InferResult> Infer(const std::string& model, int64_t version,
                                    const std::vector<std::pair<std::string, Tensor>>& inputs,
                                    const std::vector<std::string>& outputs);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::unique_ptr<octet::v1::ModelService::Stub> models_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> inference_;
};

}  // namespace octet::client

#endif  // OCTET_CLIENT_OCTET_CLIENT_H_
