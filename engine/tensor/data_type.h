#ifndef OCTET_ENGINE_TENSOR_DATA_TYPE_H_
#define OCTET_ENGINE_TENSOR_DATA_TYPE_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace octet {

// Element types the engine stores. Values are not ONNX's; convert with the functions below.
enum class DataType : int {
  kFloat32,
  kFloat64,
  kFloat16,
  kUint8,
  kInt8,
  kInt32,
  kInt64,
  kBool,
};

// Bytes per element.
size_t ElementSize(DataType type);

// Lower-case name as numpy spells it ("float32", "uint8", ...).
absl::string_view DataTypeName(DataType type);

// The KServe v2 / Triton datatype name ("FP32", "UINT8", ...), and back; nullopt for a name the
// engine does not hold.
absl::string_view KserveName(DataType type);
std::optional<DataType> DataTypeFromKserveName(absl::string_view name);

// ONNX TensorProto.DataType values; nullopt for types the engine does not hold.
std::optional<DataType> DataTypeFromOnnx(int32_t onnx_type);
int32_t DataTypeToOnnx(DataType type);

// Compile-time mapping from C++ element type to DataType.
template <typename T>
struct DataTypeOf;
template <> struct DataTypeOf<float> { static constexpr DataType value = DataType::kFloat32; };
template <> struct DataTypeOf<double> { static constexpr DataType value = DataType::kFloat64; };
template <> struct DataTypeOf<uint8_t> { static constexpr DataType value = DataType::kUint8; };
template <> struct DataTypeOf<int8_t> { static constexpr DataType value = DataType::kInt8; };
template <> struct DataTypeOf<int32_t> { static constexpr DataType value = DataType::kInt32; };
template <> struct DataTypeOf<int64_t> { static constexpr DataType value = DataType::kInt64; };
template <> struct DataTypeOf<bool> { static constexpr DataType value = DataType::kBool; };

}  // namespace octet

#endif  // OCTET_ENGINE_TENSOR_DATA_TYPE_H_
