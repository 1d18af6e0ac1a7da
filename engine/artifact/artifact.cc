#include "engine/artifact/artifact.h"

#include <utility>

#include "engine/artifact/sha256.h"
#include "nlohmann/json.hpp"

namespace octet {
namespace {

nlohmann::ordered_json FileEntry(const std::string& bytes) {
  return {{"sha256", Sha256Hex(bytes)}, {"size_bytes", bytes.size()}};
}

nlohmann::ordered_json DatasetEntry(const std::optional<ArtifactInput>& dataset) {
  if (!dataset.has_value()) return nullptr;
  return {{"name", dataset->name}, {"sha256", dataset->sha256}};
}

}  // namespace

Artifact PackageArtifact(std::string model, std::string report_json,
                         const ArtifactProvenance& provenance) {
  nlohmann::ordered_json manifest;
  manifest["format"] = "octet-artifact/1";
  manifest["octet_version"] = provenance.octet_version;
  manifest["files"]["model.onnx"] = FileEntry(model);
  manifest["files"]["report.json"] = FileEntry(report_json);
  manifest["source_model"] = {{"name", provenance.source_model.name},
                              {"version", provenance.source_model.version},
                              {"sha256", provenance.source_model.sha256}};
  manifest["calibration_dataset"] = DatasetEntry(provenance.calibration_dataset);
  manifest["evaluation_dataset"] = DatasetEntry(provenance.evaluation_dataset);
  Artifact artifact;
  artifact.model = std::move(model);
  artifact.report_json = std::move(report_json);
  artifact.manifest_json = manifest.dump(2) + "\n";
  return artifact;
}

}  // namespace octet
