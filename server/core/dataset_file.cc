#include "server/core/dataset_file.h"

#include <cmath>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/io/npy.h"
#include "server/core/proto_conversion.h"
#include "server/store/blob_store.h"

namespace octet::server {
namespace {

using octet::v1::ArraySpec;
using octet::v1::Dataset;
using octet::v1::DatasetFormat;
using octet::v1::ModelVersion;
using octet::v1::TensorSpec;

bool IsUnnamed(absl::string_view name) { return name.empty() || name == "arr_0"; }

std::string Quoted(absl::string_view name) {
  return name.empty() ? std::string("the unnamed array") : absl::StrCat("array '", name, "'");
}

std::string ShapeText(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

template <typename T>
absl::Status CheckFinite(const std::string& name, const Tensor& tensor) {
  const T* values = tensor.data<T>();
  int64_t count = 0;
  int64_t first = -1;
  for (int64_t i = 0; i < tensor.element_count(); ++i) {
    if (!std::isfinite(values[i])) {
      if (count++ == 0) first = i;
    }
  }
  if (count == 0) return absl::OkStatus();
  const int64_t per_sample = tensor.element_count() / tensor.dim(0);
  return absl::InvalidArgumentError(
      absl::StrCat(Quoted(name), " holds ", count, " NaN or infinite value", count == 1 ? "" : "s",
                   "; the first is element ", first, " (sample ", first / per_sample, ")"));
}

// The array bound to `input`: the one of its name, or a lone unnamed one for a single input.
const ArraySpec* FindArray(const Dataset& dataset, const std::string& input, int input_count) {
  const ArraySpec* unnamed = nullptr;
  for (const ArraySpec& array : dataset.arrays()) {
    if (array.name() == input) return &array;
    if (IsUnnamed(array.name())) unnamed = &array;
  }
  return input_count == 1 ? unnamed : nullptr;
}

}  // namespace

DatasetFormat DetectDatasetFormat(absl::string_view first_bytes) {
  if (absl::StartsWith(first_bytes, "\x93NUMPY")) return octet::v1::DATASET_FORMAT_NPY;
  if (absl::StartsWith(first_bytes, absl::string_view("PK\x03\x04", 4))) {
    return octet::v1::DATASET_FORMAT_NPZ;
  }
  return octet::v1::DATASET_FORMAT_UNSPECIFIED;
}

absl::StatusOr<std::vector<NamedTensor>> ReadDatasetFile(const std::string& path,
                                                         DatasetFormat format, int64_t max_bytes) {
  if (format == octet::v1::DATASET_FORMAT_NPY) {
    OCTET_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
    absl::StatusOr<Tensor> tensor = ParseNpy(bytes);
    if (!tensor.ok()) return tensor.status();
    std::vector<NamedTensor> arrays;
    arrays.emplace_back("", *std::move(tensor));
    return arrays;
  }
  // NPZ, and TENSORS uploads, which are stored as .npz.
  return ReadNpzFile(path, max_bytes);
}

absl::Status DescribeDataset(const std::vector<NamedTensor>& arrays, Dataset* dataset) {
  if (arrays.empty()) return absl::InvalidArgumentError("the dataset holds no arrays");
  dataset->clear_arrays();
  dataset->set_has_labels(false);
  int64_t samples = -1;
  bool unnamed = false;
  for (const auto& [name, tensor] : arrays) {
    if (tensor.rank() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(Quoted(name), " is a scalar; samples run along the first dimension"));
    }
    unnamed = unnamed || IsUnnamed(name);
    if (samples < 0) samples = tensor.dim(0);
    if (tensor.dim(0) != samples) {
      return absl::InvalidArgumentError(absl::StrCat(
          Quoted(name), " has ", tensor.dim(0), " samples (shape ", ShapeText(tensor.shape()),
          ") but ", Quoted(arrays[0].first), " has ", samples));
    }
    ArraySpec* spec = dataset->add_arrays();
    spec->set_name(name);
    spec->set_data_type(ToProto(tensor.type()));
    for (int64_t d : tensor.shape()) spec->add_shape(d);
    if (tensor.type() == DataType::kFloat32) {
      OCTET_RETURN_IF_ERROR(CheckFinite<float>(name, tensor));
    } else if (tensor.type() == DataType::kFloat64) {
      OCTET_RETURN_IF_ERROR(CheckFinite<double>(name, tensor));
    }
    if (name == kLabelsArray) {
      if (tensor.type() != DataType::kInt64 || tensor.rank() != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("array 'labels' must be int64 with one label per sample; it is ",
                         DataTypeName(tensor.type()), " of shape ", ShapeText(tensor.shape())));
      }
      const int64_t* labels = tensor.data<int64_t>();
      int64_t low = 0;
      int64_t high = 0;
      for (int64_t i = 0; i < tensor.element_count(); ++i) {
        if (labels[i] < 0) {
          return absl::InvalidArgumentError(absl::StrCat("array 'labels' holds the negative label ",
                                                         labels[i], " at sample ", i));
        }
        if (i == 0 || labels[i] < low) low = labels[i];
        if (i == 0 || labels[i] > high) high = labels[i];
      }
      dataset->set_has_labels(true);
      dataset->set_label_min(low);
      dataset->set_label_max(high);
    }
  }
  if (samples == 0) return absl::InvalidArgumentError("the dataset holds zero samples");
  const int inputs = static_cast<int>(arrays.size()) - (dataset->has_labels() ? 1 : 0);
  if (inputs == 0) return absl::InvalidArgumentError("the dataset holds only labels, no inputs");
  if (unnamed && inputs > 1) {
    return absl::InvalidArgumentError(
        "an unnamed array can only be the dataset's single input; name every array after the "
        "model input it feeds");
  }
  dataset->set_sample_count(samples);
  return absl::OkStatus();
}

absl::Status CheckDatasetFitsModel(const Dataset& dataset, const ModelVersion& model,
                                   const std::string& evaluation_output) {
  const std::string where = absl::StrCat("dataset '", dataset.name(), "'");
  for (const TensorSpec& input : model.inputs()) {
    const ArraySpec* array = FindArray(dataset, input.name(), model.inputs_size());
    if (array == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, " has no array for model input '", input.name(), "' (arrays: ",
          absl::StrJoin(dataset.arrays(), ", ",
                        [](std::string* out, const ArraySpec& a) {
                          absl::StrAppend(out, a.name().empty() ? "<unnamed>" : a.name());
                        }),
          ")"));
    }
    const std::string array_name = absl::StrCat(where, " ", Quoted(array->name()));
    if (array->data_type() != input.data_type()) {
      return absl::InvalidArgumentError(absl::StrCat(
          array_name, " is ", octet::v1::DataType_Name(array->data_type()), " but model input '",
          input.name(), "' takes ", octet::v1::DataType_Name(input.data_type())));
    }
    if (input.shape_size() == 0) continue;  // the model declares no rank
    if (array->shape_size() != input.shape_size()) {
      return absl::InvalidArgumentError(absl::StrCat(array_name, " has rank ", array->shape_size(),
                                                     " but model input '", input.name(),
                                                     "' has rank ", input.shape_size()));
    }
    for (int d = 1; d < input.shape_size(); ++d) {
      if (input.shape(d) >= 0 && input.shape(d) != array->shape(d)) {
        return absl::InvalidArgumentError(absl::StrCat(array_name, " has ", array->shape(d),
                                                       " in dimension ", d, " but model input '",
                                                       input.name(), "' needs ", input.shape(d)));
      }
    }
    if (input.shape(0) >= 0 && dataset.sample_count() % input.shape(0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, " has ", dataset.sample_count(), " samples, not a multiple of model input '",
          input.name(), "''s fixed batch of ", input.shape(0)));
    }
  }
  if (dataset.has_labels() && model.outputs_size() > 0) {
    const TensorSpec* output = &model.outputs(0);
    for (const TensorSpec& o : model.outputs()) {
      if (o.name() == evaluation_output) output = &o;
    }
    if (output->shape_size() > 0) {
      const int64_t classes = output->shape(output->shape_size() - 1);
      if (classes > 0 && dataset.label_max() >= classes) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, " array 'labels' holds label ", dataset.label_max(),
                         " but model output '", output->name(), "' has ", classes, " classes"));
      }
    }
  }
  return absl::OkStatus();
}

SampleSet ToSampleSet(std::vector<NamedTensor> arrays, const ModelVersion& model) {
  SampleSet set;
  for (auto& [name, tensor] : arrays) {
    if (name == kLabelsArray) {
      const absl::Span<const int64_t> labels = tensor.values<int64_t>();
      set.labels.assign(labels.begin(), labels.end());
      continue;
    }
    std::string input = name;
    if (model.inputs_size() == 1 && IsUnnamed(name)) input = model.inputs(0).name();
    set.inputs.emplace_back(std::move(input), std::move(tensor));
  }
  return set;
}

absl::Status TensorBatchAccumulator::Add(const octet::v1::TensorBatch& batch) {
  const int index = batches_++;
  if (batch.arrays_size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("tensor batch ", index, " holds no arrays"));
  }
  if (index > 0 && batch.arrays_size() != static_cast<int>(parts_.size())) {
    return absl::InvalidArgumentError(absl::StrCat("tensor batch ", index, " holds ",
                                                   batch.arrays_size(), " arrays; batch 0 held ",
                                                   parts_.size()));
  }
  for (int i = 0; i < batch.arrays_size(); ++i) {
    const octet::v1::TensorBatch::Array& array = batch.arrays(i);
    const std::string field = absl::StrCat("batch ", index, " array '", array.name(), "'");
    const std::optional<DataType> type = FromProto(array.data_type());
    if (!type.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": data_type is unspecified"));
    }
    Shape shape(array.shape().begin(), array.shape().end());
    if (shape.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": shape needs a sample dimension"));
    }
    if (index == 0) {
      for (const auto& part : parts_) {
        if (part.first == array.name()) {
          return absl::InvalidArgumentError(absl::StrCat(field, " appears twice"));
        }
      }
      parts_.emplace_back(array.name(), std::vector<Tensor>());
    } else {
      const auto& [name, earlier] = parts_[i];
      const Tensor& first = earlier.front();
      if (name != array.name() || first.type() != *type ||
          first.rank() != static_cast<int64_t>(shape.size()) ||
          !std::equal(shape.begin() + 1, shape.end(), first.shape().begin() + 1)) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, " (", DataTypeName(*type), " ", ShapeText(shape),
                         ") does not continue batch 0's array ", i, " ('", name, "', ",
                         DataTypeName(first.type()), " ", ShapeText(first.shape()), ")"));
      }
    }
    if (bytes_ + static_cast<int64_t>(array.data().size()) > max_bytes_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the dataset passes the limit of ", max_bytes_, " bytes at ", field));
    }
    absl::StatusOr<Tensor> tensor =
        Tensor::FromBytes(*type, shape, array.data().data(), array.data().size());
    if (!tensor.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", tensor.status().message()));
    }
    bytes_ += static_cast<int64_t>(array.data().size());
    parts_[i].second.push_back(*std::move(tensor));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<NamedTensor>> TensorBatchAccumulator::Finish() {
  std::vector<NamedTensor> arrays;
  for (auto& [name, batches] : parts_) {
    Shape shape = batches.front().shape();
    shape[0] = 0;
    for (const Tensor& t : batches) shape[0] += t.dim(0);
    OCTET_ASSIGN_OR_RETURN(Tensor whole, Tensor::Create(batches.front().type(), shape));
    char* out = static_cast<char*>(whole.raw_data());
    for (const Tensor& t : batches) {
      std::memcpy(out, t.raw_data(), t.byte_size());
      out += t.byte_size();
    }
    arrays.emplace_back(name, std::move(whole));
    batches.clear();
  }
  parts_.clear();
  return arrays;
}

}  // namespace octet::server
