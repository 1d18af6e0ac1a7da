#include "server/core/model_registry.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/quant/precision.h"
#include "server/core/proto_conversion.h"

namespace octet::server {
namespace {

using octet::v1::ModelVersion;

void Describe(const ValueInfo& info, octet::v1::TensorSpec* spec) {
  spec->set_name(info.name);
  spec->set_data_type(ToProto(info.type));
  if (!info.shape.has_value()) return;
  for (const Dim& d : *info.shape) {
    spec->add_shape(d.size);
    spec->add_dim_names(d.name);
  }
}

// The parts of a version's metadata that come from the model file.
ModelVersion DescribeGraph(const Graph& graph) {
  ModelVersion version;
  for (const ValueInfo& input : graph.inputs) Describe(input, version.add_inputs());
  for (const ValueInfo& output : graph.outputs) Describe(output, version.add_outputs());
  version.set_opset_version(graph.opset);
  version.set_producer_name(graph.producer_name);
  switch (ClassifyPrecision(graph)) {
    case GraphPrecision::kFloat:
      version.set_precision(octet::v1::PRECISION_FLOAT);
      break;
    case GraphPrecision::kInt8:
      version.set_precision(octet::v1::PRECISION_INT8);
      break;
    case GraphPrecision::kWeightOnly:
      version.set_precision(octet::v1::PRECISION_WEIGHT_ONLY);
      break;
  }
  return version;
}

}  // namespace

absl::StatusOr<AddedVersion> ModelRegistry::Upload(const std::string& name,
                                                   const std::string& description, bool new_version,
                                                   BlobStore::Writer& blob) {
  ModelVersion provenance;
  provenance.set_name(name);
  provenance.set_description(description);
  return Add(provenance, new_version, /*promote=*/false, blob, nullptr);
}

absl::StatusOr<AddedVersion> ModelRegistry::AddJobResult(
    const std::string& name, const ModelVersion& provenance, BlobStore::Writer& blob, bool promote,
    const ModelStore::TransactionStep& in_transaction) {
  ModelVersion named = provenance;
  named.set_name(name);
  return Add(named, /*new_version=*/true, promote, blob, in_transaction);
}

absl::StatusOr<AddedVersion> ModelRegistry::Add(const ModelVersion& provenance, bool new_version,
                                                bool promote, BlobStore::Writer& blob,
                                                const ModelStore::TransactionStep& in_transaction) {
  const std::string& name = provenance.name();
  OCTET_RETURN_IF_ERROR(ValidateName(name, "name"));
  if (blob.size() == 0) return absl::InvalidArgumentError("the upload is empty: no model bytes");
  OCTET_ASSIGN_OR_RETURN(std::string sha256, blob.Finish());
  OCTET_ASSIGN_OR_RETURN(std::string bytes, ReadFile(blob.temp_path()));
  absl::StatusOr<Graph> graph = ImportOnnxModel(bytes);
  if (!graph.ok()) return graph.status();
  ModelVersion version = DescribeGraph(*graph);
  version.set_name(name);
  version.set_description(provenance.description());
  version.set_source_version(provenance.source_version());
  version.set_job_id(provenance.job_id());
  absl::StatusOr<std::unique_ptr<Session>> session =
      CreateSession(runner_, *std::move(graph), session_options_);
  if (!session.ok()) {
    // The model is fine as ONNX but not something this engine runs.
    return absl::InvalidArgumentError(
        absl::StrCat("the model cannot be served: ", session.status().message()));
  }
  ModelStore::TransactionStep step = in_transaction;
  if (promote) {
    step = [&](Database& db, int64_t number) -> absl::Status {
      OCTET_RETURN_IF_ERROR(ModelStore::SetDefaultVersionIn(db, name, number));
      return in_transaction == nullptr ? absl::OkStatus() : in_transaction(db, number);
    };
  }
  // The registry's lock is held across the store call when the default may move, so that the
  // cached default stays in step with the database (as in SetDefaultVersion).
  absl::MutexLock lock(&mu_);
  OCTET_ASSIGN_OR_RETURN(AddedVersion added, store_->AddVersion(blob, version, new_version, step));
  const int64_t number = added.version.version();
  if (added.created) {
    auto loaded = std::make_shared<LoadedModel>();
    loaded->version = added.version;
    loaded->session = *std::move(session);
    loaded_[{name, number}] = std::move(loaded);
  }
  // A first upload creates the name, whose default is then this version; promote moves it.
  if (added.version.is_default() || promote) default_versions_[name] = number;
  return added;
}

std::shared_ptr<const LoadedModel> ModelRegistry::Loaded(const std::string& name, int64_t version) {
  absl::MutexLock lock(&mu_);
  int64_t wanted = version;
  if (wanted == 0) {
    auto d = default_versions_.find(name);
    if (d == default_versions_.end()) return nullptr;
    wanted = d->second;
  }
  auto it = loaded_.find({name, wanted});
  return it != loaded_.end() ? it->second : nullptr;
}

absl::StatusOr<std::shared_ptr<const LoadedModel>> ModelRegistry::Get(const std::string& name,
                                                                      int64_t version) {
  if (std::shared_ptr<const LoadedModel> loaded = Loaded(name, version)) return loaded;
  OCTET_ASSIGN_OR_RETURN(ModelVersion resolved, store_->GetVersion(name, version));
  const Key key{name, resolved.version()};
  // Loaded outside the lock; two concurrent first requests may both load, and the first to
  // finish is kept.
  OCTET_ASSIGN_OR_RETURN(
      std::string bytes,
      blobs_->ReadVerified(resolved.sha256(),
                           absl::StrCat("model '", name, "' version ", resolved.version())));
  OCTET_ASSIGN_OR_RETURN(Graph graph, ImportOnnxModel(bytes));
  auto loaded = std::make_shared<LoadedModel>();
  loaded->version = resolved;
  OCTET_ASSIGN_OR_RETURN(loaded->session,
                         CreateSession(runner_, std::move(graph), session_options_));
  absl::MutexLock lock(&mu_);
  // Only fills a gap: SetDefaultVersion may have moved the default since the store was read.
  if (version == 0) default_versions_.try_emplace(name, resolved.version());
  auto [it, inserted] = loaded_.emplace(key, std::move(loaded));
  return it->second;
}

absl::StatusOr<std::vector<int64_t>> ModelRegistry::Delete(const std::string& name,
                                                           int64_t version) {
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> deleted, store_->Delete(name, version));
  {
    absl::MutexLock lock(&mu_);
    for (int64_t v : deleted) loaded_.erase({name, v});
    if (version == 0) default_versions_.erase(name);
    serving_.erase(name);  // read again from the store, which drops it with the name
  }
  if (on_delete_) on_delete_(name, deleted);
  return deleted;
}

absl::StatusOr<Graph> ModelRegistry::ReadGraph(const std::string& name, int64_t version) {
  OCTET_ASSIGN_OR_RETURN(ModelVersion resolved, store_->GetVersion(name, version));
  OCTET_ASSIGN_OR_RETURN(
      std::string bytes,
      blobs_->ReadVerified(resolved.sha256(),
                           absl::StrCat("model '", name, "' version ", resolved.version())));
  return ImportOnnxModel(bytes);
}

absl::StatusOr<octet::v1::Model> ModelRegistry::SetDefaultVersion(const std::string& name,
                                                                  int64_t version) {
  // Holding the lock across the store call keeps the cached default in step with the database
  // when two SetDefaultVersion calls race.
  absl::MutexLock lock(&mu_);
  OCTET_ASSIGN_OR_RETURN(octet::v1::Model model, store_->SetDefaultVersion(name, version));
  default_versions_[name] = model.default_version();
  return model;
}

octet::v1::ServingConfig ModelRegistry::ServingOf(const std::string& name) {
  auto it = serving_.find(name);
  if (it == serving_.end()) {
    absl::StatusOr<octet::v1::Model> model = store_->GetModel(name);
    if (!model.ok()) return {};
    it = serving_.emplace(name, model->serving()).first;
  }
  return it->second;
}

BatchingPolicy ModelRegistry::Batching(const std::string& name) {
  absl::MutexLock lock(&mu_);
  const octet::v1::ServingConfig config = ServingOf(name);
  BatchingPolicy policy = batching_;
  if (config.has_max_batch_size()) policy.max_batch_size = config.max_batch_size();
  if (config.has_max_queue_delay_us()) {
    policy.max_queue_delay = absl::Microseconds(config.max_queue_delay_us());
  }
  return policy;
}

std::optional<double> ModelRegistry::DriftSampleRate(const std::string& name) {
  absl::MutexLock lock(&mu_);
  const octet::v1::ServingConfig config = ServingOf(name);
  if (!config.has_drift_sample_rate()) return std::nullopt;
  return config.drift_sample_rate();
}

absl::StatusOr<octet::v1::Model> ModelRegistry::SetServingConfig(
    const std::string& name, const octet::v1::ServingConfig& config) {
  if (config.has_max_batch_size() &&
      (config.max_batch_size() < 1 || config.max_batch_size() > kMaxBatchSize)) {
    return absl::InvalidArgumentError(absl::StrCat("max_batch_size ", config.max_batch_size(),
                                                   " is not within 1 to ", kMaxBatchSize));
  }
  if (config.has_max_queue_delay_us() &&
      (config.max_queue_delay_us() < 0 || config.max_queue_delay_us() > kMaxQueueDelayUs)) {
    return absl::InvalidArgumentError(absl::StrCat("max_queue_delay_us ",
                                                   config.max_queue_delay_us(),
                                                   " is not within 0 to ", kMaxQueueDelayUs));
  }
  if (config.has_drift_sample_rate() &&
      !(config.drift_sample_rate() >= 0.0 && config.drift_sample_rate() <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("drift_sample_rate ", config.drift_sample_rate(), " is not within 0 to 1"));
  }
  absl::MutexLock lock(&mu_);
  OCTET_ASSIGN_OR_RETURN(octet::v1::Model model, store_->SetServingConfig(name, config));
  serving_[name] = model.serving();
  return model;
}

}  // namespace octet::server
