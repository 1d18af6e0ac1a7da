#include "server/core/proto_conversion.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/cpu/cpu_features.h"

namespace octet::server {
namespace {

namespace v1 = octet::v1;

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("config.", field, " ", why));
}

absl::StatusOr<QuantizationScheme> Scheme(v1::QuantizationScheme scheme,
                                          QuantizationScheme fallback, absl::string_view field) {
  switch (scheme) {
    case v1::QUANTIZATION_SCHEME_UNSPECIFIED:
      return fallback;
    case v1::QUANTIZATION_SCHEME_SYMMETRIC:
      return QuantizationScheme::kSymmetric;
    case v1::QUANTIZATION_SCHEME_ASYMMETRIC:
      return QuantizationScheme::kAsymmetric;
    default:
      return Invalid(field, absl::StrCat("has the unknown value ", scheme));
  }
}

v1::QuantizationScheme SchemeToProto(QuantizationScheme scheme) {
  return scheme == QuantizationScheme::kSymmetric ? v1::QUANTIZATION_SCHEME_SYMMETRIC
                                                  : v1::QUANTIZATION_SCHEME_ASYMMETRIC;
}

// config.weights into `out` (defaults kept for unset fields).
absl::Status WeightsFromProto(const v1::WeightQuantization& weights, WeightQuantizationSpec* out) {
  OCTET_ASSIGN_OR_RETURN(out->scheme, Scheme(weights.scheme(), out->scheme, "weights.scheme"));
  switch (weights.granularity()) {
    case v1::GRANULARITY_UNSPECIFIED:
      break;
    case v1::GRANULARITY_PER_CHANNEL:
      out->per_channel = true;
      break;
    case v1::GRANULARITY_PER_TENSOR:
      out->per_channel = false;
      break;
    default:
      return Invalid("weights.granularity",
                     absl::StrCat("has the unknown value ", weights.granularity()));
  }
  if (weights.bits() != 0 && (weights.bits() < kMinWeightBits || weights.bits() > kMaxWeightBits)) {
    return Invalid("weights.bits", absl::StrCat("must be ", kMinWeightBits, " to ", kMaxWeightBits,
                                                " (0: the target CPU's), got ", weights.bits()));
  }
  out->bits = weights.bits();  // 0: the target CPU's, once FromProto knows it
  for (const auto& [field, value] :
       {std::pair<const char*, int>{"depthwise_bits", weights.depthwise_bits()},
        {"pointwise_bits", weights.pointwise_bits()},
        {"bits_where_needed", weights.bits_where_needed()}}) {
    if (value != 0 && (value < kMinWeightBits || value > kMaxWeightBits)) {
      return Invalid(absl::StrCat("weights.", field),
                     absl::StrCat("must be ", kMinWeightBits, " to ", kMaxWeightBits,
                                  " (0: as bits), got ", value));
    }
  }
  out->depthwise_bits = weights.depthwise_bits();
  out->pointwise_bits = weights.pointwise_bits();
  out->bits_where_needed = weights.bits_where_needed();
  if (weights.has_narrow_range()) out->narrow_range = weights.narrow_range();
  switch (weights.rounding()) {
    case v1::ROUNDING_UNSPECIFIED:
      break;  // the engine's default (GPTQ)
    case v1::ROUNDING_NEAREST:
      out->rounding = Rounding::kNearest;
      break;
    case v1::ROUNDING_STOCHASTIC:
      out->rounding = Rounding::kStochastic;
      break;
    case v1::ROUNDING_GPTQ:
      out->rounding = Rounding::kGptq;
      break;
    default:
      return Invalid("weights.rounding",
                     absl::StrCat("has the unknown value ", weights.rounding()));
  }
  return absl::OkStatus();
}

// config.calibration into `out` (defaults kept for unset fields).
absl::Status CalibrationFromProto(const v1::Calibration& calibration, QuantizationConfig* out) {
  switch (calibration.method()) {
    case v1::CALIBRATION_METHOD_UNSPECIFIED:
      break;
    case v1::CALIBRATION_METHOD_MIN_MAX:
      out->calibration.method = CalibrationMethod::kMinMax;
      break;
    case v1::CALIBRATION_METHOD_MOVING_AVERAGE_MIN_MAX:
      out->calibration.method = CalibrationMethod::kMovingAverageMinMax;
      break;
    case v1::CALIBRATION_METHOD_PERCENTILE:
      out->calibration.method = CalibrationMethod::kPercentile;
      break;
    case v1::CALIBRATION_METHOD_ENTROPY:
      out->calibration.method = CalibrationMethod::kEntropy;
      break;
    case v1::CALIBRATION_METHOD_MSE:
      out->calibration.method = CalibrationMethod::kMse;
      break;
    case v1::CALIBRATION_METHOD_AUTO:
      out->calibration.method = CalibrationMethod::kAuto;
      break;
    default:
      return Invalid("calibration.method",
                     absl::StrCat("has the unknown value ", calibration.method()));
  }
  if (calibration.percentile() != 0) {
    if (calibration.method() != v1::CALIBRATION_METHOD_PERCENTILE &&
        calibration.method() != v1::CALIBRATION_METHOD_AUTO &&
        calibration.method() != v1::CALIBRATION_METHOD_UNSPECIFIED) {
      return Invalid("calibration.percentile",
                     "is only meaningful with method PERCENTILE or AUTO (the default)");
    }
    if (!(calibration.percentile() > 0 && calibration.percentile() <= 100)) {
      return Invalid("calibration.percentile",
                     absl::StrCat("must be in (0, 100], got ", calibration.percentile()));
    }
    out->calibration.percentile = calibration.percentile();
  }
  if (calibration.averaging_constant() != 0) {
    if (calibration.method() != v1::CALIBRATION_METHOD_MOVING_AVERAGE_MIN_MAX) {
      return Invalid("calibration.averaging_constant",
                     "is only meaningful with method MOVING_AVERAGE_MIN_MAX");
    }
    if (!(calibration.averaging_constant() > 0 && calibration.averaging_constant() <= 1)) {
      return Invalid("calibration.averaging_constant",
                     absl::StrCat("must be in (0, 1], got ", calibration.averaging_constant()));
    }
    out->calibration.averaging_constant = calibration.averaging_constant();
  }
  if (calibration.batch_size() < 0 || calibration.batch_size() > 4096) {
    return Invalid("calibration.batch_size",
                   absl::StrCat("must be 1 to 4096 (0 means 32), got ", calibration.batch_size()));
  }
  if (calibration.batch_size() > 0) out->batch_size = calibration.batch_size();
  if (calibration.max_batches() < 0 || calibration.max_batches() > 100000) {
    return Invalid(
        "calibration.max_batches",
        absl::StrCat("must be 1 to 100000 (0 means 100), got ", calibration.max_batches()));
  }
  if (calibration.max_batches() > 0) out->max_batches = calibration.max_batches();
  return absl::OkStatus();
}

// AUTO: this process's CPU as its int8 kernels see it (runtime/cpu/cpu_features.h).
absl::Status ResolveTargetCpu(v1::TargetCpu target, const std::string& reason,
                              QuantizationConfig* out) {
  switch (target) {
    case v1::TARGET_CPU_AUTO: {
      const cpu::CpuFeatures& here = cpu::Cpu();
      out->target_cpu = here.vnni ? "vnni" : "avx2";
      out->target_cpu_reason =
          absl::StrCat("auto: the CPU of the octetd that ran the job (", here.Describe(), ")");
      return absl::OkStatus();
    }
    case v1::TARGET_CPU_AVX2:
      out->target_cpu = "avx2";
      out->target_cpu_reason = reason.empty() ? "asked for: AVX2 without VNNI" : reason;
      return absl::OkStatus();
    case v1::TARGET_CPU_VNNI:
      out->target_cpu = "vnni";
      out->target_cpu_reason = reason.empty() ? "asked for: AVX-VNNI or AVX-512 VNNI" : reason;
      return absl::OkStatus();
    default:
      return Invalid("target_cpu", absl::StrCat("has the unknown value ", target));
  }
}

}  // namespace

absl::StatusOr<QuantizationConfig> FromProto(const v1::QuantizationConfig& config) {
  QuantizationConfig out;
  switch (config.mode()) {
    case v1::QUANTIZATION_MODE_UNSPECIFIED:
    case v1::QUANTIZATION_MODE_WEIGHTS_AND_ACTIVATIONS:
      out.mode = QuantizationMode::kWeightsAndActivations;
      break;
    case v1::QUANTIZATION_MODE_WEIGHTS_ONLY:
      out.mode = QuantizationMode::kWeightsOnly;
      break;
    default:
      return Invalid("mode", absl::StrCat("has the unknown value ", config.mode()));
  }
  OCTET_RETURN_IF_ERROR(WeightsFromProto(config.weights(), &out.weights));
  out.weights.seed = config.seed();
  OCTET_ASSIGN_OR_RETURN(
      out.activation_scheme,
      Scheme(config.activations().scheme(), out.activation_scheme, "activations.scheme"));
  OCTET_RETURN_IF_ERROR(CalibrationFromProto(config.calibration(), &out));
  if (config.has_bias_correction()) out.bias_correction = config.bias_correction();
  out.empirical_bias_correction = config.empirical_bias_correction();
  out.evaluation_output = config.evaluation_output();
  if (config.has_evaluation_class_axis()) {
    out.evaluation_class_axis = config.evaluation_class_axis();
  }
  if (config.has_evaluation_threshold()) out.evaluation_threshold = config.evaluation_threshold();
  OCTET_RETURN_IF_ERROR(ResolveTargetCpu(config.target_cpu(), config.target_cpu_reason(), &out));
  if (out.weights.bits == 0) ApplyTargetWeightDefaults(out.target_cpu == "vnni", &out.weights);
  if (absl::Status s = ValidateConfig(out); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", s.message()));
  }
  return out;
}

v1::QuantizationConfig ToProto(const QuantizationConfig& config, uint64_t seed) {
  v1::QuantizationConfig out;
  out.set_mode(config.mode == QuantizationMode::kWeightsOnly
                   ? v1::QUANTIZATION_MODE_WEIGHTS_ONLY
                   : v1::QUANTIZATION_MODE_WEIGHTS_AND_ACTIVATIONS);
  v1::WeightQuantization* weights = out.mutable_weights();
  weights->set_scheme(SchemeToProto(config.weights.scheme));
  weights->set_granularity(config.weights.per_channel ? v1::GRANULARITY_PER_CHANNEL
                                                      : v1::GRANULARITY_PER_TENSOR);
  weights->set_bits(config.weights.bits);
  weights->set_depthwise_bits(config.weights.depthwise_bits);
  weights->set_pointwise_bits(config.weights.pointwise_bits);
  weights->set_bits_where_needed(config.weights.bits_where_needed);
  out.set_target_cpu(config.target_cpu == "vnni"   ? v1::TARGET_CPU_VNNI
                     : config.target_cpu == "avx2" ? v1::TARGET_CPU_AVX2
                                                   : v1::TARGET_CPU_AUTO);
  out.set_target_cpu_reason(config.target_cpu_reason);
  weights->set_narrow_range(config.weights.narrow_range);
  weights->set_rounding(config.weights.rounding == Rounding::kStochastic ? v1::ROUNDING_STOCHASTIC
                        : config.weights.rounding == Rounding::kGptq     ? v1::ROUNDING_GPTQ
                                                                         : v1::ROUNDING_NEAREST);
  out.mutable_activations()->set_scheme(SchemeToProto(config.activation_scheme));
  v1::Calibration* calibration = out.mutable_calibration();
  switch (config.calibration.method) {
    case CalibrationMethod::kMinMax:
      calibration->set_method(v1::CALIBRATION_METHOD_MIN_MAX);
      break;
    case CalibrationMethod::kMovingAverageMinMax:
      calibration->set_method(v1::CALIBRATION_METHOD_MOVING_AVERAGE_MIN_MAX);
      break;
    case CalibrationMethod::kPercentile:
      calibration->set_method(v1::CALIBRATION_METHOD_PERCENTILE);
      break;
    case CalibrationMethod::kEntropy:
      calibration->set_method(v1::CALIBRATION_METHOD_ENTROPY);
      break;
    case CalibrationMethod::kMse:
      calibration->set_method(v1::CALIBRATION_METHOD_MSE);
      break;
    case CalibrationMethod::kAuto:
      calibration->set_method(v1::CALIBRATION_METHOD_AUTO);
      break;
  }
  if (config.calibration.method == CalibrationMethod::kPercentile ||
      config.calibration.method == CalibrationMethod::kAuto) {
    calibration->set_percentile(config.calibration.percentile);
  }
  if (config.calibration.method == CalibrationMethod::kMovingAverageMinMax) {
    calibration->set_averaging_constant(config.calibration.averaging_constant);
  }
  calibration->set_batch_size(config.batch_size);
  calibration->set_max_batches(config.max_batches);
  out.set_seed(seed);
  out.set_evaluation_output(config.evaluation_output);
  if (config.evaluation_class_axis.has_value()) {
    out.set_evaluation_class_axis(*config.evaluation_class_axis);
  }
  out.set_evaluation_threshold(config.evaluation_threshold);
  out.set_bias_correction(config.bias_correction);
  out.set_empirical_bias_correction(config.empirical_bias_correction);
  return out;
}

octet::v1::DataType ToProto(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return octet::v1::DATA_TYPE_FLOAT32;
    case DataType::kFloat64:
      return octet::v1::DATA_TYPE_FLOAT64;
    case DataType::kFloat16:
      return octet::v1::DATA_TYPE_FLOAT16;
    case DataType::kUint8:
      return octet::v1::DATA_TYPE_UINT8;
    case DataType::kInt8:
      return octet::v1::DATA_TYPE_INT8;
    case DataType::kInt32:
      return octet::v1::DATA_TYPE_INT32;
    case DataType::kInt64:
      return octet::v1::DATA_TYPE_INT64;
    case DataType::kBool:
      return octet::v1::DATA_TYPE_BOOL;
  }
  return octet::v1::DATA_TYPE_UNSPECIFIED;
}

std::optional<DataType> FromProto(octet::v1::DataType type) {
  for (DataType t : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kUint8,
                     DataType::kInt8, DataType::kInt32, DataType::kInt64, DataType::kBool}) {
    if (ToProto(t) == type) return t;
  }
  return std::nullopt;
}

}  // namespace octet::server
