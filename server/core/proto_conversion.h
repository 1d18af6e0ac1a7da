// Between the octet.v1 wire messages and the engine's types: element types and quantization
// configs. (KServe's tensors: services/tensor_conversion.h.)
#ifndef OCTET_SERVER_CORE_PROTO_CONVERSION_H_
#define OCTET_SERVER_CORE_PROTO_CONVERSION_H_

#include <optional>

#include "absl/status/statusor.h"
#include "engine/quant/quantization_config.h"
#include "engine/tensor/data_type.h"
#include "octet/v1/common.pb.h"
#include "octet/v1/quantization_service.pb.h"

namespace octet::server {

// Between engine types and octet.v1.DataType; nullopt for DATA_TYPE_UNSPECIFIED.
octet::v1::DataType ToProto(DataType type);
std::optional<DataType> FromProto(octet::v1::DataType type);

// Unset fields take Octet's defaults. INVALID_ARGUMENT naming the field (as `config.<path>`) for
// values out of range or combinations the engine refuses (stochastic rounding of activations is
// not a field; 4-bit activations neither).
absl::StatusOr<QuantizationConfig> FromProto(const octet::v1::QuantizationConfig& config);

// The engine's config with every default filled in, as the job reports it.
octet::v1::QuantizationConfig ToProto(const QuantizationConfig& config, uint64_t seed);

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_PROTO_CONVERSION_H_
