#include "engine/quant/weight_quantizer.h"

#include <cmath>
#include <limits>

#include "engine/base/status_matchers.h"
#include "engine/tensor/affine_quantization.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using ::octet::testing::IsOk;
using ::octet::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::FloatEq;
using ::testing::HasSubstr;

const IntegerFormat kUint8{DataType::kUint8, 8, false};
const IntegerFormat kInt8Narrow{DataType::kInt8, 8, true};

TEST(QuantizeValueTest, RoundsHalfToEvenThenSaturates) {
  const IntegerRange u8{0, 255};
  EXPECT_EQ(QuantizeValue(2.5f, 1.0f, 0, u8), 2);
  EXPECT_EQ(QuantizeValue(3.5f, 1.0f, 0, u8), 4);
  EXPECT_EQ(QuantizeValue(-0.5f, 1.0f, 10, u8), 10);
  EXPECT_EQ(QuantizeValue(300.0f, 1.0f, 0, u8), 255);
  EXPECT_EQ(QuantizeValue(-1.0f, 1.0f, 0, u8), 0);
  EXPECT_EQ(QuantizeValue(std::nanf(""), 1.0f, 7, u8), 7);
}

TEST(ChooseScaleAndZeroPointTest, AsymmetricRangeIsWidenedToIncludeZero) {
  // The whitepaper's example: (2.1, 3.5) is quantized as (0, 3.5).
  OCTET_ASSERT_OK_AND_ASSIGN(
      ScaleAndZeroPoint sz,
      ChooseScaleAndZeroPoint(2.1f, 3.5f, QuantizationScheme::kAsymmetric, kUint8));
  EXPECT_THAT(sz.scale, FloatEq(3.5f / 255));
  EXPECT_EQ(sz.zero_point, 0);
}

TEST(ChooseScaleAndZeroPointTest, AsymmetricZeroPointMakesZeroExact) {
  OCTET_ASSERT_OK_AND_ASSIGN(
      ScaleAndZeroPoint sz,
      ChooseScaleAndZeroPoint(-1.0f, 1.0f, QuantizationScheme::kAsymmetric, kUint8));
  EXPECT_THAT(sz.scale, FloatEq(2.0f / 255));
  EXPECT_NEAR(sz.zero_point, 127.5, 0.5);
  EXPECT_EQ(DequantizeValue(QuantizeValue(0.0f, sz.scale, sz.zero_point, {0, 255}), sz.scale,
                            sz.zero_point),
            0.0f);
}

TEST(ChooseScaleAndZeroPointTest, AllNegativeRangeEndsAtZero) {
  OCTET_ASSERT_OK_AND_ASSIGN(
      ScaleAndZeroPoint sz,
      ChooseScaleAndZeroPoint(-4.0f, -2.0f, QuantizationScheme::kAsymmetric, kUint8));
  EXPECT_THAT(sz.scale, FloatEq(4.0f / 255));
  EXPECT_EQ(sz.zero_point, 255);
}

TEST(ChooseScaleAndZeroPointTest, SymmetricNarrowUsesLargestMagnitudeOver127) {
  OCTET_ASSERT_OK_AND_ASSIGN(
      ScaleAndZeroPoint sz,
      ChooseScaleAndZeroPoint(-0.5f, 2.54f, QuantizationScheme::kSymmetric, kInt8Narrow));
  EXPECT_THAT(sz.scale, FloatEq(0.02f));
  EXPECT_EQ(sz.zero_point, 0);
}

TEST(ChooseScaleAndZeroPointTest, FourBitNarrowRangeIsMinus7To7) {
  const IntegerFormat int4{DataType::kInt8, 4, true};
  EXPECT_EQ(int4.range().min, -7);
  EXPECT_EQ(int4.range().max, 7);
  EXPECT_EQ((IntegerFormat{DataType::kInt8, 4, false}.range().min), -8);
  OCTET_ASSERT_OK_AND_ASSIGN(
      ScaleAndZeroPoint sz,
      ChooseScaleAndZeroPoint(-1.4f, 0.7f, QuantizationScheme::kSymmetric, int4));
  EXPECT_THAT(sz.scale, FloatEq(0.2f));
}

TEST(ChooseScaleAndZeroPointTest, ConstantZeroTensorGetsScaleOne) {
  for (auto scheme : {QuantizationScheme::kSymmetric, QuantizationScheme::kAsymmetric}) {
    OCTET_ASSERT_OK_AND_ASSIGN(ScaleAndZeroPoint sz,
                               ChooseScaleAndZeroPoint(0.0f, 0.0f, scheme, kInt8Narrow));
    EXPECT_EQ(sz.scale, 1.0f);
    EXPECT_EQ(DequantizeValue(QuantizeValue(0.0f, sz.scale, sz.zero_point, {-127, 127}), sz.scale,
                              sz.zero_point),
              0.0f);
  }
}

TEST(ChooseScaleAndZeroPointTest, ConstantNonZeroTensorIsExact) {
  OCTET_ASSERT_OK_AND_ASSIGN(
      ScaleAndZeroPoint sz,
      ChooseScaleAndZeroPoint(3.0f, 3.0f, QuantizationScheme::kAsymmetric, kUint8));
  EXPECT_THAT(DequantizeValue(QuantizeValue(3.0f, sz.scale, sz.zero_point, {0, 255}), sz.scale,
                              sz.zero_point),
              FloatEq(3.0f));
}

TEST(ChooseScaleAndZeroPointTest, RejectsNonFiniteOrInvertedRanges) {
  EXPECT_THAT(ChooseScaleAndZeroPoint(0.0f, INFINITY, QuantizationScheme::kSymmetric, kUint8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a finite interval")));
  EXPECT_THAT(ChooseScaleAndZeroPoint(2.0f, 1.0f, QuantizationScheme::kSymmetric, kUint8),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

Tensor TwoChannelWeights() {
  return Tensor::FromVector<float>({2, 3}, {1.0f, -2.0f, 0.5f, 0.1f, 0.2f, -0.3f});
}

TEST(QuantizeWeightsTest, PerChannelSymmetricNarrow) {
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizedTensor q,
                             QuantizeWeights(TwoChannelWeights(), 0, WeightQuantizationSpec{}));
  EXPECT_EQ(q.params.axis, 0);
  EXPECT_THAT(q.params.scales, ElementsAre(FloatEq(2.0f / 127), FloatEq(0.3f / 127)));
  EXPECT_THAT(q.values.values<int8_t>(), ElementsAre(64, -127, 32, 42, 85, -127));
}

TEST(QuantizeWeightsTest, PerTensorCrushesTheSmallChannel) {
  WeightQuantizationSpec spec;
  spec.per_channel = false;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizedTensor q, QuantizeWeights(TwoChannelWeights(), 0, spec));
  EXPECT_EQ(q.params.axis, -1);
  EXPECT_THAT(q.values.values<int8_t>(), ElementsAre(64, -127, 32, 6, 13, -19));
}

TEST(QuantizeWeightsTest, AsymmetricFourBitUsesZeroPoint) {
  WeightQuantizationSpec spec;
  spec.scheme = QuantizationScheme::kAsymmetric;
  spec.bits = 4;
  spec.narrow_range = false;
  spec.per_channel = false;
  const Tensor w = Tensor::FromVector<float>({4}, {0.0f, 1.0f, 2.0f, 3.0f});
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizedTensor q, QuantizeWeights(w, 0, spec));
  EXPECT_THAT(q.params.scales, ElementsAre(FloatEq(0.2f)));
  EXPECT_THAT(q.params.zero_points, ElementsAre(-8));
  EXPECT_THAT(q.values.values<int8_t>(), ElementsAre(-8, -3, 2, 7));
  EXPECT_THAT(DequantizeTensor(q).values<float>(),
              ElementsAre(0.0f, FloatEq(1.0f), FloatEq(2.0f), FloatEq(3.0f)));
}

TEST(QuantizeWeightsTest, StochasticRoundingIsSeededAndUnbiased) {
  // 0.25 of a step above a grid point: nearest rounding always rounds down, stochastic rounding
  // rounds up a quarter of the time.
  std::vector<float> values(4000, 0.25f);
  values.push_back(127.0f);
  const Tensor w = Tensor::FromVector<float>({static_cast<int64_t>(values.size())}, values);
  WeightQuantizationSpec spec;
  spec.per_channel = false;
  spec.rounding = Rounding::kStochastic;
  spec.seed = 42;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizedTensor a, QuantizeWeights(w, 0, spec));
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizedTensor b, QuantizeWeights(w, 0, spec));
  EXPECT_EQ(a.values.values<int8_t>(), b.values.values<int8_t>());
  double mean = 0.0;
  for (int i = 0; i < 4000; ++i) mean += a.values.data<int8_t>()[i];
  mean /= 4000;
  EXPECT_NEAR(mean, 0.25, 0.03);
  spec.seed = 43;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizedTensor c, QuantizeWeights(w, 0, spec));
  EXPECT_NE(a.values.values<int8_t>(), c.values.values<int8_t>());
  spec.rounding = Rounding::kNearest;
  OCTET_ASSERT_OK_AND_ASSIGN(QuantizedTensor nearest, QuantizeWeights(w, 0, spec));
  EXPECT_EQ(nearest.values.data<int8_t>()[0], 0);
}

TEST(QuantizeWeightsTest, RejectsNonFiniteWeightsAndBadAxes) {
  const Tensor w = Tensor::FromVector<float>({2}, {1.0f, NAN});
  EXPECT_THAT(QuantizeWeights(w, 0, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("weight 1 is nan")));
  EXPECT_THAT(QuantizeWeights(TwoChannelWeights(), 2, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("channel axis 2")));
  WeightQuantizationSpec spec;
  spec.bits = 1;
  EXPECT_THAT(QuantizeWeights(TwoChannelWeights(), 0, spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1-bit")));
  spec.bits = 9;
  EXPECT_THAT(QuantizeWeights(TwoChannelWeights(), 0, spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("9-bit")));
}

TEST(QuantizeBiasTest, Int32WithInputTimesWeightScale) {
  QuantizationParams weights;
  weights.scales = {0.02f, 0.5f};
  weights.zero_points = {0, 0};
  weights.axis = 0;
  OCTET_ASSERT_OK_AND_ASSIGN(
      QuantizedTensor q,
      QuantizeBias(Tensor::FromVector<float>({2}, {0.5f, -1.0f}), 0.1f, weights));
  EXPECT_THAT(q.values.values<int32_t>(), ElementsAre(250, -20));
  EXPECT_THAT(q.params.scales, ElementsAre(FloatEq(0.002f), FloatEq(0.05f)));
}

TEST(AffineQuantizationTest, VectorizedQuantizationEqualsTheScalarDefinition) {
  // Ties at every half step, values past both ends, NaN, infinities, denormals, large values.
  std::vector<float> x;
  for (int k = -700; k <= 700; ++k) {
    x.push_back(k * 0.5f * 0.02f);
    x.push_back(k * 0.5f * 0.02f + 1e-4f);
    x.push_back(k * 0.0137f);
  }
  for (float v : {std::nanf(""), std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(), 1e-42f, -1e-42f, 3e38f, -3e38f,
                  16777217.0f, -8388609.5f}) {
    x.push_back(v);
  }
  struct Format {
    IntegerRange range;
    int32_t zero_point;
    float scale;
  };
  for (const Format& f :
       {Format{{0, 255}, 128, 0.02f}, Format{{0, 255}, 0, 0.02f}, Format{{-128, 127}, 0, 0.02f},
        Format{{-127, 127}, -5, 0.013f}, Format{{0, 255}, 255, 1e-6f}, Format{{-8, 7}, 0, 0.5f}}) {
    std::vector<uint8_t> as_u8(x.size());
    std::vector<int8_t> as_s8(x.size());
    if (f.range.min >= 0) {
      QuantizeValues(x.data(), static_cast<int64_t>(x.size()), f.scale, f.zero_point, f.range,
                     as_u8.data());
    } else {
      QuantizeValues(x.data(), static_cast<int64_t>(x.size()), f.scale, f.zero_point, f.range,
                     as_s8.data());
    }
    for (size_t i = 0; i < x.size(); ++i) {
      const int32_t expected = QuantizeValue(x[i], f.scale, f.zero_point, f.range);
      const int32_t actual = f.range.min >= 0 ? as_u8[i] : as_s8[i];
      ASSERT_EQ(actual, expected) << "x = " << x[i] << ", zero point " << f.zero_point;
    }
  }
}

}  // namespace
}  // namespace octet
