// Calibration and evaluation datasets: reading a stored file, checking it on its own at upload,
// checking it against a model at job creation, and binding it to the model's inputs to run.
//
// A dataset holds arrays named after model inputs (a single array may be unnamed: "" from a .npy
// file, "arr_0" from numpy.savez(x)) and optionally "labels" (int64, one per sample). Samples run
// along the first dimension of every array.
#ifndef OCTET_SERVER_CORE_DATASET_FILE_H_
#define OCTET_SERVER_CORE_DATASET_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/io/npz.h"
#include "engine/quant/sample_set.h"
#include "octet/v1/dataset_service.pb.h"
#include "octet/v1/model_service.pb.h"

namespace octet::server {

inline constexpr absl::string_view kLabelsArray = "labels";

// NPY or NPZ from the file's first bytes; UNSPECIFIED when neither.
octet::v1::DatasetFormat DetectDatasetFormat(absl::string_view first_bytes);

// Reads a stored .npy (one unnamed array) or .npz file; at most `max_bytes` once unpacked.
absl::StatusOr<std::vector<NamedTensor>> ReadDatasetFile(const std::string& path,
                                                         octet::v1::DatasetFormat format,
                                                         int64_t max_bytes);

// Checks the arrays on their own and fills `dataset`'s arrays, sample_count and label fields.
// INVALID_ARGUMENT naming the array and field: no arrays, rank 0, different sample counts, zero
// samples, labels that are not int64 of rank 1 or are negative, NaN or infinite values (with their
// count and the first one's index), an unnamed array beside others.
absl::Status DescribeDataset(const std::vector<NamedTensor>& arrays, octet::v1::Dataset* dataset);

// Checks a described dataset against a model version's inputs and outputs: every input has an
// array of its element type, rank and static non-batch dims; labels (if any) lie below the class
// count of `evaluation_output` ("" = the first output) when its last dim is static.
// INVALID_ARGUMENT naming the dataset, array and field.
absl::Status CheckDatasetFitsModel(const octet::v1::Dataset& dataset,
                                   const octet::v1::ModelVersion& model,
                                   const std::string& evaluation_output);

// The arrays as the model's samples. REQUIRES: CheckDatasetFitsModel passed.
SampleSet ToSampleSet(std::vector<NamedTensor> arrays, const octet::v1::ModelVersion& model);

// Concatenates tensor batches uploaded one message at a time into whole arrays.
class TensorBatchAccumulator {
 public:
  explicit TensorBatchAccumulator(int64_t max_bytes) : max_bytes_(max_bytes) {}

  // INVALID_ARGUMENT when a batch's names, types or non-batch dims differ from the first batch's,
  // or its data does not match its shape; RESOURCE_EXHAUSTED past max_bytes.
  absl::Status Add(const octet::v1::TensorBatch& batch);
  bool empty() const { return parts_.empty(); }
  // The whole arrays, in the order of the first batch.
  absl::StatusOr<std::vector<NamedTensor>> Finish();

 private:
  int64_t max_bytes_;
  int64_t bytes_ = 0;
  int batches_ = 0;
  // Per array: its batches in order.
  std::vector<std::pair<std::string, std::vector<Tensor>>> parts_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_DATASET_FILE_H_
