#ifndef OCTET_SERVER_CORE_MODEL_REGISTRY_H_
#define OCTET_SERVER_CORE_MODEL_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/quant/sample_set.h"
#include "engine/runtime/session.h"
#include "octet/v1/model_service.pb.h"
#include "server/core/batching.h"
#include "server/store/blob_store.h"
#include "server/store/model_store.h"

namespace octet::server {

// A model version ready to serve.
struct LoadedModel {
  octet::v1::ModelVersion version;
  std::unique_ptr<Session> session;
};

// The core behind ModelService and inference: accepts uploads (checking that the engine can run
// them), manages versions, and keeps a session per served version, loaded on first use and
// verified against its sha256. Thread-safe.
class ModelRegistry {
 public:
  // `batching` applies to models without settings of their own.
  ModelRegistry(ModelStore* store, BlobStore* blobs, SessionOptions session_options,
                BatchingPolicy batching = {})
      : store_(store), blobs_(blobs), session_options_(session_options), batching_(batching) {}

  // Checks the finished-or-not upload in `blob` (parses it as ONNX, checks every op, builds a
  // plan when shapes are static) and stores it as a version of `name`. Nothing is kept on
  // failure: INVALID_ARGUMENT for a model the engine refuses, ALREADY_EXISTS for new bytes under
  // a taken name without `new_version`.
  absl::StatusOr<AddedVersion> Upload(const std::string& name, const std::string& description,
                                      bool new_version, BlobStore::Writer& blob);

  // Stores the model a quantization job made (in `blob`) as the next version of `name`, checked
  // like an upload, with `provenance`'s description, source_version and job_id. `in_transaction`
  // runs with the new version's number inside the transaction that records it; with `promote`
  // the version also becomes the default there. Identical bytes return the existing version.
  absl::StatusOr<AddedVersion> AddJobResult(const std::string& name,
                                            const octet::v1::ModelVersion& provenance,
                                            BlobStore::Writer& blob, bool promote,
                                            const ModelStore::TransactionStep& in_transaction);

  // The served version (0: the default), loading it on first use.
  absl::StatusOr<std::shared_ptr<const LoadedModel>> Get(const std::string& name, int64_t version);
  // The served version when it is loaded already (no database, file or engine work); null
  // otherwise, Get then loads it.
  std::shared_ptr<const LoadedModel> Loaded(const std::string& name, int64_t version);

  // The stored graph of a version (0: the default), as uploaded or exported (before int8
  // lowering), verified against its sha256.
  absl::StatusOr<Graph> ReadGraph(const std::string& name, int64_t version);

  // Deletes versions (0: all), drops their sessions and tells the deletion listener.
  absl::StatusOr<std::vector<int64_t>> Delete(const std::string& name, int64_t version);
  // Called after each Delete with the name and the versions deleted. Set once, before use.
  using DeletionListener = std::function<void(const std::string&, const std::vector<int64_t>&)>;
  void SetDeletionListener(DeletionListener listener) { on_delete_ = std::move(listener); }

  absl::StatusOr<octet::v1::Model> SetDefaultVersion(const std::string& name, int64_t version);

  // Where the registry builds sessions and plans (the inference workers, so that OpenMP teams
  // form on them only); unset, on the calling thread. Set once, before the registry is used.
  void SetComputeRunner(BatchRunner runner) { runner_ = std::move(runner); }
  // Runs engine work `work` where sessions are built (a description's plan).
  absl::Status Compute(const std::function<absl::Status()>& work) {
    return RunBatch(runner_, work);
  }

  // How requests to `name` are batched: its own settings over the server's.
  BatchingPolicy Batching(const std::string& name);
  // `name`'s own drift sample rate, when it has one.
  std::optional<double> DriftSampleRate(const std::string& name);
  // Stores `name`'s own settings. INVALID_ARGUMENT for values out of range, NOT_FOUND for an
  // unknown name.
  static constexpr int kMaxBatchSize = 4096;
  static constexpr int64_t kMaxQueueDelayUs = 10'000'000;
  absl::StatusOr<octet::v1::Model> SetServingConfig(const std::string& name,
                                                    const octet::v1::ServingConfig& config);

  ModelStore& store() { return *store_; }

 private:
  using Key = std::pair<std::string, int64_t>;

  // `name`'s own serving settings (empty when none).
  octet::v1::ServingConfig ServingOf(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Checks `blob` as a model the engine serves and stores it; Upload and AddJobResult.
  absl::StatusOr<AddedVersion> Add(const octet::v1::ModelVersion& provenance, bool new_version,
                                   bool promote, BlobStore::Writer& blob,
                                   const ModelStore::TransactionStep& in_transaction);

  ModelStore* const store_;
  BlobStore* const blobs_;
  const SessionOptions session_options_;
  const BatchingPolicy batching_;
  BatchRunner runner_;
  DeletionListener on_delete_;

  // Serving answers from these without touching the database; every change of versions or
  // defaults goes through this class, which keeps them current.
  absl::Mutex mu_;
  std::map<Key, std::shared_ptr<const LoadedModel>> loaded_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> default_versions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, octet::v1::ServingConfig> serving_ ABSL_GUARDED_BY(mu_);
};

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_MODEL_REGISTRY_H_
