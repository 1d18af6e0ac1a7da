#ifndef OCTET_CLIENT_OCTET_CLIENT_H_
#define OCTET_CLIENT_OCTET_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor/tensor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "inference/open_inference_grpc.grpc.pb.h"
#include "octet/v1/dataset_service.grpc.pb.h"
#include "octet/v1/model_service.grpc.pb.h"
#include "octet/v1/quantization_service.grpc.pb.h"

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

  // The connection, for callers with their own stubs (the load generator).
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

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
  // Replaces the model's own serving settings.
  absl::StatusOr<octet::v1::Model> SetServingConfig(const std::string& name,
                                                    const octet::v1::ServingConfig& config);
  // The live drift of a quantized version (0: the default) over the monitor's window.
  absl::StatusOr<octet::v1::DriftReport> GetDrift(const std::string& name, int64_t version);
  // How the server runs the version (0: the default) for inputs of `batch_size` (0: 1) and the
  // given shapes (by input name).
  absl::StatusOr<octet::v1::ModelRuntime> DescribeRuntime(
      const std::string& name, int64_t version, int64_t batch_size,
      const std::vector<std::pair<std::string, std::vector<int64_t>>>& input_shapes);
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

  // Streams a .npy or .npz file in 1 MiB chunks (the server detects which).
  absl::StatusOr<octet::v1::Dataset> UploadDataset(const std::string& path, const std::string& name,
                                                   const std::string& description);
  absl::StatusOr<std::vector<octet::v1::Dataset>> ListDatasets();
  absl::StatusOr<octet::v1::Dataset> GetDataset(const std::string& name);
  absl::Status DeleteDataset(const std::string& name);

  absl::StatusOr<octet::v1::Job> CreateJob(const octet::v1::CreateJobRequest& request);
  absl::StatusOr<octet::v1::Job> GetJob(const std::string& id);
  // Every page, newest first; empty `model` / JOB_STATE_UNSPECIFIED list all.
  absl::StatusOr<std::vector<octet::v1::Job>> ListJobs(const std::string& model,
                                                       octet::v1::JobState state);
  absl::StatusOr<octet::v1::Job> CancelJob(const std::string& id);
  // Calls `on_change` with every state or progress change until the job ends; returns the last.
  absl::StatusOr<octet::v1::Job> WatchJob(
      const std::string& id, const std::function<void(const octet::v1::Job&)>& on_change);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::unique_ptr<octet::v1::ModelService::Stub> models_;
  std::unique_ptr<octet::v1::DatasetService::Stub> datasets_;
  std::unique_ptr<octet::v1::QuantizationService::Stub> jobs_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> inference_;
};

}  // namespace octet::client

#endif  // OCTET_CLIENT_OCTET_CLIENT_H_
