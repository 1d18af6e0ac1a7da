#include "server/core/job_executor.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/artifact/artifact.h"
#include "engine/base/status_macros.h"
#include "engine/quant/post_training_quantizer.h"
#include "server/core/dataset_file.h"
#include "server/core/job_state.h"
#include "server/core/proto_conversion.h"
#include "server/store/job_store.h"

namespace octet::server {
namespace {

namespace v1 = octet::v1;

// A dataset of the job, checked against its hash and bound to the model's inputs.
struct LoadedDataset {
  v1::Dataset dataset;
  SampleSet samples;
};

// The dataset `name`, checked against its hash and the model, bound to the model's inputs.
absl::StatusOr<LoadedDataset> LoadDataset(BlobStore& blobs, DatasetStore& datasets,
                                          const std::string& name, const v1::ModelVersion& source,
                                          const QuantizationConfig& config, int64_t max_bytes) {
  LoadedDataset loaded;
  OCTET_ASSIGN_OR_RETURN(loaded.dataset, datasets.Get(name));
  // Hashed as a stream, not read into memory twice.
  OCTET_RETURN_IF_ERROR(
      blobs.CheckIntact(loaded.dataset.sha256(), absl::StrCat("dataset '", name, "'")));
  OCTET_ASSIGN_OR_RETURN(
      std::vector<NamedTensor> arrays,
      ReadDatasetFile(blobs.PathFor(loaded.dataset.sha256()), loaded.dataset.format(), max_bytes));
  OCTET_RETURN_IF_ERROR(CheckDatasetFitsModel(loaded.dataset, source, config.evaluation_output));
  loaded.samples = ToSampleSet(std::move(arrays), source);
  return loaded;
}

absl::StatusOr<std::unique_ptr<BlobStore::Writer>> WriteBlob(BlobStore& blobs,
                                                             const std::string& bytes) {
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> writer,
                         blobs.NewWriter(static_cast<int64_t>(bytes.size()) + 1));
  OCTET_RETURN_IF_ERROR(writer->Append(bytes));
  OCTET_RETURN_IF_ERROR(writer->Finish().status());
  return writer;
}

// Where depthwise and pointwise layers' precision differs from the others': ", W8 depthwise and
// pointwise" (or each named).
std::string LayerBits(const WeightQuantizationSpec& weights) {
  const int depthwise = weights.DepthwiseBits();
  const int pointwise = weights.PointwiseBits();
  if (depthwise == pointwise && depthwise != weights.bits) {
    return absl::StrCat(", W", depthwise, " depthwise and pointwise");
  }
  std::string bits;
  if (depthwise != weights.bits) absl::StrAppend(&bits, ", W", depthwise, " depthwise");
  if (pointwise != weights.bits) absl::StrAppend(&bits, ", W", pointwise, " pointwise");
  return bits;
}

// The version's description: the configuration, with the weights' precision as the model has it.
std::string ConfigSummary(const QuantizationConfig& config, const WeightQuantizationSpec& weights) {
  const char* granularity = config.weights.per_channel ? " per channel" : " per tensor";
  if (config.mode == QuantizationMode::kWeightsOnly) {
    return absl::StrCat("weights only, W", weights.bits, granularity, LayerBits(weights));
  }
  return absl::StrCat(
      "W", weights.bits, granularity, LayerBits(weights), ", A8 ",
      config.activation_scheme == QuantizationScheme::kSymmetric ? "symmetric" : "asymmetric", ", ",
      CalibrationMethodName(config.calibration.method), " calibration",
      config.target_cpu.empty()
          ? ""
          : (config.target_cpu == "vnni" ? ", for VNNI CPUs" : ", for AVX2 CPUs"));
}

std::optional<ArtifactInput> InputOf(const std::optional<LoadedDataset>& loaded) {
  if (!loaded.has_value()) return std::nullopt;
  return ArtifactInput{loaded->dataset.name(), loaded->dataset.sha256()};
}

// `job` SUCCEEDED with `result`'s evaluation, as the commit records it.
v1::Job Succeeded(v1::Job job, const QuantizationResult& result) {
  job.set_state(v1::JOB_STATE_SUCCEEDED);
  job.clear_error();
  v1::JobProgress* progress = job.mutable_progress();
  progress->set_fraction(1.0);
  progress->set_message("done");
  if (result.evaluation.has_value()) {
    v1::EvaluationSummary* summary = job.mutable_evaluation();
    summary->set_samples(result.evaluation->samples);
    const Comparison& e = *result.evaluation;
    if (e.reference_top1.has_value()) summary->set_float_top1(*e.reference_top1);
    if (e.candidate_top1.has_value()) summary->set_quantized_top1(*e.candidate_top1);
    if (e.top1_agreement.has_value()) summary->set_top1_agreement(*e.top1_agreement);
    summary->set_output_sqnr_db(result.evaluation->output_sqnr_db);
  }
  return job;
}

}  // namespace

absl::StatusOr<v1::Job> JobExecutor::Execute(const v1::Job& job, const Hooks& hooks) const {
  BlobStore& blobs = storage_->blobs();
  OCTET_ASSIGN_OR_RETURN(v1::ModelVersion source,
                         registry_->store().GetVersion(job.model(), job.model_version()));
  OCTET_ASSIGN_OR_RETURN(
      std::string model_bytes,
      blobs.ReadVerified(source.sha256(),
                         absl::StrCat("model '", source.name(), "' version ", source.version())));
  OCTET_ASSIGN_OR_RETURN(QuantizationConfig config, FromProto(job.config()));
  std::optional<LoadedDataset> calibration, evaluation;
  if (!job.calibration_dataset().empty()) {
    OCTET_ASSIGN_OR_RETURN(calibration, LoadDataset(blobs, *datasets_, job.calibration_dataset(),
                                                    source, config, options_.max_dataset_bytes));
  }
  if (!job.evaluation_dataset().empty()) {
    OCTET_ASSIGN_OR_RETURN(evaluation, LoadDataset(blobs, *datasets_, job.evaluation_dataset(),
                                                   source, config, options_.max_dataset_bytes));
  }

  QuantizationRequest request;
  request.model = std::move(model_bytes);
  request.config = config;
  request.calibration = calibration.has_value() ? &calibration->samples : nullptr;
  request.evaluation = evaluation.has_value() ? &evaluation->samples : nullptr;
  request.num_threads = options_.threads_per_job;
  request.batch_runner = [this](const std::function<absl::Status()>& work) {
    return scheduler_->RunTask(work);
  };
  request.octet_version = options_.octet_version;
  request.progress = [&](const QuantizationProgress& p) {
    const v1::JobStage stage = StageOf(p.stage);
    if (options_.abort_in_calibration && stage == v1::JOB_STAGE_CALIBRATE && p.batches_done >= 1) {
      std::fprintf(stderr, "octetd: --testing_abort_in_calibration: aborting in job %s\n",
                   job.id().c_str());
      std::abort();
    }
    return hooks.progress(stage, p.batches_done, p.batches_total);
  };
  OCTET_ASSIGN_OR_RETURN(QuantizationResult result, QuantizeModel(request));
  OCTET_RETURN_IF_ERROR(hooks.storing());

  ArtifactProvenance provenance{options_.octet_version,
                                {source.name(), source.sha256(), source.version()},
                                InputOf(calibration),
                                InputOf(evaluation)};
  const Artifact artifact =
      PackageArtifact(std::move(result.model), std::move(result.report_json), provenance);
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> model_blob,
                         WriteBlob(blobs, artifact.model));
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> report_blob,
                         WriteBlob(blobs, artifact.report_json));
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> manifest_blob,
                         WriteBlob(blobs, artifact.manifest_json));
  OCTET_ASSIGN_OR_RETURN(const std::string report_sha256, report_blob->Finish());
  OCTET_ASSIGN_OR_RETURN(const std::string manifest_sha256, manifest_blob->Finish());

  v1::Job done = Succeeded(hooks.current(), result);
  v1::ModelVersion version;
  version.set_description(absl::StrCat("quantized from version ", source.version(), " by ",
                                       job.id(), " (", ConfigSummary(config, result.weights), ")"));
  version.set_source_version(source.version());
  version.set_job_id(job.id());
  OCTET_RETURN_IF_ERROR(
      registry_
          ->AddJobResult(job.model(), version, *model_blob, job.promote(),
                         [&](Database& db, int64_t number) -> absl::Status {
                           OCTET_RETURN_IF_ERROR(report_blob->Commit());
                           OCTET_RETURN_IF_ERROR(manifest_blob->Commit());
                           OCTET_RETURN_IF_ERROR(JobStore::AddArtifactIn(
                               db, job.model(), number, job.id(), report_sha256, manifest_sha256));
                           done.set_result_version(number);
                           *done.mutable_end_time() = Now();
                           return JobStore::UpdateIn(db, done);
                         })
          .status());
  return done;
}

}  // namespace octet::server
