#include "server/core/proto_conversion.h"

#include "engine/base/status_matchers.h"
#include "engine/runtime/cpu/cpu_features.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace octet::server {
namespace {

namespace v1 = octet::v1;
using ::octet::testing::StatusIs;
using ::testing::HasSubstr;

TEST(JobConfigTest, AnEmptyConfigTakesOctetsDefaults) {
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationConfig config, FromProto(v1::QuantizationConfig()));
  const QuantizationConfig defaults;
  EXPECT_EQ(config.mode, QuantizationMode::kWeightsAndActivations);
  EXPECT_EQ(config.weights.scheme, QuantizationScheme::kSymmetric);
  EXPECT_TRUE(config.weights.per_channel);
  // AUTO: the CPU of this process, and the weight bits its int8 kernels run exactly.
  EXPECT_EQ(config.target_cpu, cpu::Cpu().vnni ? "vnni" : "avx2");
  EXPECT_THAT(config.target_cpu_reason, HasSubstr(cpu::Cpu().Describe()));
  EXPECT_EQ(config.weights.bits, cpu::Cpu().vnni ? 8 : 7);
  EXPECT_TRUE(config.weights.narrow_range);
  EXPECT_EQ(config.activation_scheme, QuantizationScheme::kAsymmetric);
  EXPECT_EQ(config.calibration.method, kDefaultCalibrationMethod);
  EXPECT_EQ(config.weights.rounding, Rounding::kGptq);
  EXPECT_EQ(config.batch_size, defaults.batch_size);
  EXPECT_EQ(config.max_batches, defaults.max_batches);
  EXPECT_TRUE(config.bias_correction);
  EXPECT_FALSE(config.empirical_bias_correction);
}

TEST(JobConfigTest, TheTargetCpuDecidesTheDefaultWeightBitsAndExplicitBitsWin) {
  v1::QuantizationConfig wire;
  wire.set_target_cpu(v1::TARGET_CPU_AVX2);
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationConfig avx2, FromProto(wire));
  EXPECT_EQ(avx2.weights.bits, 7);
  // Depthwise and pointwise layers as the others, 8 bits where the job finds the model needs them.
  EXPECT_EQ(avx2.weights.depthwise_bits, 0);
  EXPECT_EQ(avx2.weights.pointwise_bits, 0);
  EXPECT_EQ(avx2.weights.bits_where_needed, 8);
  EXPECT_EQ(avx2.target_cpu, "avx2");
  EXPECT_EQ(ToProto(avx2, 0).weights().bits(), 7);
  EXPECT_EQ(ToProto(avx2, 0).target_cpu(), v1::TARGET_CPU_AVX2);
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationConfig stored, FromProto(ToProto(avx2, 0)));
  EXPECT_EQ(stored.weights.bits, 7);
  EXPECT_EQ(stored.weights.bits_where_needed, 8);
  wire.set_target_cpu(v1::TARGET_CPU_VNNI);
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationConfig vnni, FromProto(wire));
  EXPECT_EQ(vnni.weights.bits, 8);
  EXPECT_EQ(vnni.weights.bits_where_needed, 0);
  wire.set_target_cpu(v1::TARGET_CPU_AVX2);
  wire.mutable_weights()->set_bits(8);
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationConfig explicit_bits, FromProto(wire));
  EXPECT_EQ(explicit_bits.weights.bits, 8);
  EXPECT_EQ(explicit_bits.weights.bits_where_needed, 0);
  wire.mutable_weights()->set_depthwise_bits(9);
  EXPECT_THAT(FromProto(wire),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("weights.depthwise_bits")));
  wire.mutable_weights()->set_depthwise_bits(0);
  // A stored config keeps how AUTO was resolved.
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationConfig resolved, FromProto(v1::QuantizationConfig()));
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationConfig again, FromProto(ToProto(resolved, 0)));
  EXPECT_EQ(again.target_cpu_reason, resolved.target_cpu_reason);
  wire.set_target_cpu(static_cast<v1::TargetCpu>(9));
  EXPECT_THAT(FromProto(wire),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("target_cpu")));
}

TEST(JobConfigTest, EveryFieldIsCarriedAndReportedBack) {
  v1::QuantizationConfig wire;
  wire.set_mode(v1::QUANTIZATION_MODE_WEIGHTS_AND_ACTIVATIONS);
  wire.mutable_weights()->set_scheme(v1::QUANTIZATION_SCHEME_ASYMMETRIC);
  wire.mutable_weights()->set_granularity(v1::GRANULARITY_PER_TENSOR);
  wire.mutable_weights()->set_bits(4);
  wire.mutable_weights()->set_depthwise_bits(6);
  wire.mutable_weights()->set_pointwise_bits(5);
  wire.mutable_weights()->set_bits_where_needed(7);
  wire.mutable_weights()->set_narrow_range(false);
  wire.mutable_weights()->set_rounding(v1::ROUNDING_STOCHASTIC);
  wire.mutable_activations()->set_scheme(v1::QUANTIZATION_SCHEME_SYMMETRIC);
  wire.mutable_calibration()->set_method(v1::CALIBRATION_METHOD_PERCENTILE);
  wire.mutable_calibration()->set_percentile(99.9);
  wire.mutable_calibration()->set_batch_size(8);
  wire.mutable_calibration()->set_max_batches(3);
  wire.set_seed(42);
  wire.set_bias_correction(false);
  wire.set_empirical_bias_correction(true);
  wire.set_evaluation_output("logits");
  wire.set_target_cpu(v1::TARGET_CPU_AVX2);
  wire.set_target_cpu_reason("asked for: AVX2 without VNNI");
  wire.set_evaluation_class_axis(-1);
  wire.set_evaluation_threshold(0.25f);
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizationConfig config, FromProto(wire));
  EXPECT_EQ(config.evaluation_class_axis, -1);
  EXPECT_EQ(config.evaluation_threshold, 0.25f);
  EXPECT_EQ(config.weights.bits, 4);
  EXPECT_EQ(config.weights.depthwise_bits, 6);
  EXPECT_EQ(config.weights.pointwise_bits, 5);
  EXPECT_EQ(config.weights.bits_where_needed, 7);
  EXPECT_FALSE(config.weights.per_channel);
  EXPECT_EQ(config.weights.rounding, Rounding::kStochastic);
  EXPECT_EQ(config.weights.seed, 42u);
  EXPECT_EQ(config.calibration.percentile, 99.9);
  EXPECT_FALSE(config.bias_correction);
  EXPECT_TRUE(config.empirical_bias_correction);
  // What the job reports is what it runs: converting back gives the same message.
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(ToProto(config, 42), wire))
      << ToProto(config, 42).DebugString();
}

TEST(JobConfigTest, RoundingNamesEachEngineRounding) {
  for (const auto& [wire, engine] : std::vector<std::pair<v1::Rounding, Rounding>>{
           {v1::ROUNDING_NEAREST, Rounding::kNearest},
           {v1::ROUNDING_STOCHASTIC, Rounding::kStochastic},
           {v1::ROUNDING_GPTQ, Rounding::kGptq}}) {
    v1::QuantizationConfig config;
    config.mutable_weights()->set_rounding(wire);
    OCTET_ASSERT_OK_AND_ASSIGN(QuantizationConfig converted, FromProto(config));
    EXPECT_EQ(converted.weights.rounding, engine);
    EXPECT_EQ(ToProto(converted, 0).weights().rounding(), wire);
  }
}

TEST(JobConfigTest, RefusesValuesOutOfRangeNamingTheField) {
  v1::QuantizationConfig wire;
  wire.mutable_weights()->set_bits(16);
  EXPECT_THAT(FromProto(wire), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("config.weights.bits must be 2 to 8")));
  wire = v1::QuantizationConfig();
  wire.mutable_calibration()->set_method(v1::CALIBRATION_METHOD_MSE);
  wire.mutable_calibration()->set_percentile(99.9);
  EXPECT_THAT(FromProto(wire), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("config.calibration.percentile is only")));
  wire.mutable_calibration()->set_method(v1::CALIBRATION_METHOD_PERCENTILE);
  wire.mutable_calibration()->set_percentile(101);
  EXPECT_THAT(FromProto(wire), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("(0, 100]")));
  wire = v1::QuantizationConfig();
  wire.mutable_calibration()->set_batch_size(-1);
  EXPECT_THAT(FromProto(wire), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("config.calibration.batch_size")));
  wire = v1::QuantizationConfig();
  wire.set_mode(static_cast<v1::QuantizationMode>(9));
  EXPECT_THAT(FromProto(wire), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("config.mode has the unknown value 9")));
}

}  // namespace
}  // namespace octet::server
