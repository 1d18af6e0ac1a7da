#include "server/services/tensor_conversion.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet::server {
namespace {

template <typename T, typename Repeated>
absl::StatusOr<Tensor> FromTyped(const Repeated& values, Shape shape, int64_t count,
                                 const std::string& where) {
  if (values.size() != count) {
    return absl::InvalidArgumentError(absl::StrCat(where, " holds ", values.size(),
                                                   " values, shape ", ShapeToString(shape),
                                                   " needs ", count));
  }
  OCTET_ASSIGN_OR_RETURN(Tensor tensor, Tensor::Create(DataTypeOf<T>::value, std::move(shape)));
  T* out = tensor.data<T>();
  for (int64_t i = 0; i < count; ++i) {
    const auto v = values.Get(static_cast<int>(i));
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "[", i, "] = ", v, " is out of range for the datatype"));
      }
    }
    out[i] = static_cast<T>(v);
  }
  return tensor;
}

absl::StatusOr<Tensor> FromContents(const inference::InferTensorContents& contents, DataType type,
                                    Shape shape, int64_t count, const std::string& name) {
  const std::string where = absl::StrCat("input '", name, "' contents.");
  switch (type) {
    case DataType::kFloat32:
      return FromTyped<float>(contents.fp32_contents(), shape, count, where + "fp32_contents");
    case DataType::kFloat64:
      return FromTyped<double>(contents.fp64_contents(), shape, count, where + "fp64_contents");
    case DataType::kInt64:
      return FromTyped<int64_t>(contents.int64_contents(), shape, count, where + "int64_contents");
    case DataType::kInt32:
      return FromTyped<int32_t>(contents.int_contents(), shape, count, where + "int_contents");
    case DataType::kInt8:
      return FromTyped<int8_t>(contents.int_contents(), shape, count, where + "int_contents");
    case DataType::kUint8:
      return FromTyped<uint8_t>(contents.uint_contents(), shape, count, where + "uint_contents");
    case DataType::kBool:
      return FromTyped<bool>(contents.bool_contents(), shape, count, where + "bool_contents");
    case DataType::kFloat16:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("input '", name, "': datatype FP16 must be sent in raw_input_contents"));
}

}  // namespace

absl::StatusOr<std::vector<NamedTensor>> InputsFromRequest(
    const inference::ModelInferRequest& request) {
  const bool raw = request.raw_input_contents_size() > 0;
  if (raw && request.raw_input_contents_size() != request.inputs_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("raw_input_contents has ", request.raw_input_contents_size(), " entries for ",
                     request.inputs_size(), " inputs; send one per input or none"));
  }
  std::vector<NamedTensor> inputs;
  inputs.reserve(request.inputs_size());
  for (int i = 0; i < request.inputs_size(); ++i) {
    const auto& input = request.inputs(i);
    const std::optional<DataType> type = DataTypeFromKserveName(input.datatype());
    if (!type.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", input.name(), "' has unknown datatype '", input.datatype(),
                       "' (expected FP32, FP64, FP16, UINT8, INT8, INT32, INT64 or BOOL)"));
    }
    Shape shape(input.shape().begin(), input.shape().end());
    absl::StatusOr<int64_t> count = CheckedElementCount(shape, ElementSize(*type));
    if (!count.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", input.name(), "' shape: ", count.status().message()));
    }
    absl::StatusOr<Tensor> tensor;
    if (raw) {
      const std::string& bytes = request.raw_input_contents(i);
      const uint64_t expected = static_cast<uint64_t>(*count) * ElementSize(*type);
      if (bytes.size() != expected) {
        return absl::InvalidArgumentError(absl::StrCat(
            "input '", input.name(), "' raw_input_contents[", i, "] has ", bytes.size(), " bytes; ",
            input.datatype(), " ", ShapeToString(shape), " needs ", expected));
      }
      tensor = Tensor::FromBytes(*type, std::move(shape), bytes.data(), bytes.size());
    } else {
      tensor = FromContents(input.contents(), *type, std::move(shape), *count, input.name());
    }
    if (!tensor.ok()) return tensor.status();
    inputs.emplace_back(input.name(), *std::move(tensor));
  }
  return inputs;
}

void AddOutput(const std::string& name, const Tensor& tensor,
               inference::ModelInferResponse* response) {
  auto* output = response->add_outputs();
  output->set_name(name);
  output->set_datatype(std::string(KserveName(tensor.type())));
  for (int64_t d : tensor.shape()) output->add_shape(d);
  response->add_raw_output_contents(static_cast<const char*>(tensor.raw_data()),
                                    tensor.byte_size());
}

}  // namespace octet::server
