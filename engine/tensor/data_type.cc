#include "engine/tensor/data_type.h"

namespace octet {
namespace {

// ONNX TensorProto.DataType enumerators (onnx/onnx.proto3), spelled out so that this target needs
// no ONNX headers.
constexpr int32_t kOnnxFloat = 1;
constexpr int32_t kOnnxUint8 = 2;
constexpr int32_t kOnnxInt8 = 3;
constexpr int32_t kOnnxInt32 = 6;
constexpr int32_t kOnnxInt64 = 7;
constexpr int32_t kOnnxBool = 9;
constexpr int32_t kOnnxFloat16 = 10;
constexpr int32_t kOnnxDouble = 11;

}  // namespace

size_t ElementSize(DataType type) {
  switch (type) {
    case DataType::kFloat64:
    case DataType::kInt64:
      return 8;
    case DataType::kFloat32:
    case DataType::kInt32:
      return 4;
    case DataType::kFloat16:
      return 2;
    case DataType::kUint8:
    case DataType::kInt8:
    case DataType::kBool:
      return 1;
  }
  return 0;
}

absl::string_view DataTypeName(DataType type) {
  switch (type) {
    case DataType::kFloat32: return "float32";
    case DataType::kFloat64: return "float64";
    case DataType::kFloat16: return "float16";
    case DataType::kUint8: return "uint8";
    case DataType::kInt8: return "int8";
    case DataType::kInt32: return "int32";
    case DataType::kInt64: return "int64";
    case DataType::kBool: return "bool";
  }
  return "unknown";
}

absl::string_view KserveName(DataType type) {
  switch (type) {
    case DataType::kFloat32: return "FP32";
    case DataType::kFloat64: return "FP64";
    case DataType::kFloat16: return "FP16";
    case DataType::kUint8: return "UINT8";
    case DataType::kInt8: return "INT8";
    case DataType::kInt32: return "INT32";
    case DataType::kInt64: return "INT64";
    case DataType::kBool: return "BOOL";
  }
  return "";
}

std::optional<DataType> DataTypeFromKserveName(absl::string_view name) {
  for (DataType type : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16,
                        DataType::kUint8, DataType::kInt8, DataType::kInt32, DataType::kInt64,
                        DataType::kBool}) {
    if (KserveName(type) == name) return type;
  }
  return std::nullopt;
}

std::optional<DataType> DataTypeFromOnnx(int32_t onnx_type) {
  switch (onnx_type) {
    case kOnnxFloat: return DataType::kFloat32;
    case kOnnxUint8: return DataType::kUint8;
    case kOnnxInt8: return DataType::kInt8;
    case kOnnxInt32: return DataType::kInt32;
    case kOnnxInt64: return DataType::kInt64;
    case kOnnxBool: return DataType::kBool;
    case kOnnxFloat16: return DataType::kFloat16;
    case kOnnxDouble: return DataType::kFloat64;
    default: return std::nullopt;
  }
}

int32_t DataTypeToOnnx(DataType type) {
  switch (type) {
    case DataType::kFloat32: return kOnnxFloat;
    case DataType::kFloat64: return kOnnxDouble;
    case DataType::kFloat16: return kOnnxFloat16;
    case DataType::kUint8: return kOnnxUint8;
    case DataType::kInt8: return kOnnxInt8;
    case DataType::kInt32: return kOnnxInt32;
    case DataType::kInt64: return kOnnxInt64;
    case DataType::kBool: return kOnnxBool;
  }
  return 0;
}

}  // namespace octet
