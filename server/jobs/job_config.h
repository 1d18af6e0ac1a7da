// octet.v1.QuantizationConfig (the wire) to octet::QuantizationConfig (the engine).
#ifndef OCTET_SERVER_JOBS_JOB_CONFIG_H_
#define OCTET_SERVER_JOBS_JOB_CONFIG_H_

#include "absl/status/statusor.h"
#include "engine/quant/quantization_config.h"
#include "octet/v1/quantization_service.pb.h"

namespace octet::server {

// Unset fields take Octet's defaults. INVALID_ARGUMENT naming the field (as `config.<path>`) for
// values out of range or combinations the engine refuses (stochastic rounding of activations is
// not a field; 4-bit activations neither).
absl::StatusOr<QuantizationConfig> FromProto(const octet::v1::QuantizationConfig& config);

// The engine's config with every default filled in, as the job reports it.
octet::v1::QuantizationConfig ToProto(const QuantizationConfig& config, uint64_t seed);

}  // namespace octet::server

#endif  // OCTET_SERVER_JOBS_JOB_CONFIG_H_
