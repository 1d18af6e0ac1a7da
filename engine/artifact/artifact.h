// A quantization's artifact: the QDQ model, its report, and the manifest that names both by hash
// with what they were made from. The same inputs give the same bytes.
#ifndef OCTET_ENGINE_ARTIFACT_ARTIFACT_H_
#define OCTET_ENGINE_ARTIFACT_ARTIFACT_H_

#include <cstdint>
#include <optional>
#include <string>

namespace octet {

// A file the artifact was made from, named as its owner names it.
struct ArtifactInput {
  std::string name;
  std::string sha256;
  int64_t version = 0;  // models only
};

struct ArtifactProvenance {
  std::string octet_version;
  ArtifactInput source_model;
  std::optional<ArtifactInput> calibration_dataset;
  std::optional<ArtifactInput> evaluation_dataset;
};

struct Artifact {
  std::string model;          // model.onnx
  std::string report_json;    // report.json
  std::string manifest_json;  // manifest.json ("octet-artifact/1")
};

// The artifact of `model` and `report_json`, with its manifest: each file's sha256 and size, the
// source model and datasets, Octet's version.
Artifact PackageArtifact(std::string model, std::string report_json,
                         const ArtifactProvenance& provenance);

}  // namespace octet

#endif  // OCTET_ENGINE_ARTIFACT_ARTIFACT_H_
