#include <cmath>
#include <random>

#include "engine/base/status_matchers.h"
#include "engine/quant/observers/range_observer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using ::octet::testing::IsOk;
using ::octet::testing::StatusIs;
using ::testing::HasSubstr;

const RangeTarget kUint8Target{QuantizationScheme::kAsymmetric, {DataType::kUint8, 8, false}};

std::unique_ptr<RangeObserver> Make(CalibrationMethod method, double percentile = 99.99,
                                    double averaging = 0.01) {
  CalibrationOptions options;
  options.method = method;
  options.percentile = percentile;
  options.averaging_constant = averaging;
  return *MakeRangeObserver(options);
}

TEST(MinMaxObserverTest, KeepsExtremesAcrossBatches) {
  auto observer = Make(CalibrationMethod::kMinMax);
  ASSERT_THAT(observer->Observe({1.0f, -2.0f}), IsOk());
  ASSERT_THAT(observer->Observe({5.0f}), IsOk());
  OCTET_ASSERT_OK_AND_ASSIGN(RealRange range, observer->Range(kUint8Target));
  EXPECT_EQ(range.min, -2.0f);
  EXPECT_EQ(range.max, 5.0f);
}

TEST(MovingAverageObserverTest, AveragesBatchExtremes) {
  auto observer = Make(CalibrationMethod::kMovingAverageMinMax, 99.99, 0.5);
  ASSERT_THAT(observer->Observe({0.0f, 4.0f}), IsOk());
  ASSERT_THAT(observer->Observe({2.0f, 8.0f}), IsOk());
  OCTET_ASSERT_OK_AND_ASSIGN(RealRange range, observer->Range(kUint8Target));
  EXPECT_FLOAT_EQ(range.min, 1.0f);
  EXPECT_FLOAT_EQ(range.max, 6.0f);
}

TEST(ObserverTest, EveryMethodRejectsNaNAndInfinity) {
  for (auto method :
       {CalibrationMethod::kMinMax, CalibrationMethod::kMovingAverageMinMax,
        CalibrationMethod::kPercentile, CalibrationMethod::kEntropy, CalibrationMethod::kMse}) {
    auto observer = Make(method);
    EXPECT_THAT(observer->Observe({1.0f, NAN}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("value 1 of the batch")))
        << CalibrationMethodName(method);
    EXPECT_THAT(observer->Observe({INFINITY}),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
    EXPECT_THAT(observer->Range(kUint8Target),
                StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  }
}

TEST(ObserverTest, EveryMethodGivesConstantTensorsAZeroWidthOrExactRange) {
  for (auto method :
       {CalibrationMethod::kMinMax, CalibrationMethod::kMovingAverageMinMax,
        CalibrationMethod::kPercentile, CalibrationMethod::kEntropy, CalibrationMethod::kMse}) {
    auto zeros = Make(method);
    ASSERT_THAT(zeros->Observe(std::vector<float>(100, 0.0f)), IsOk());
    OCTET_ASSERT_OK_AND_ASSIGN(RealRange range, zeros->Range(kUint8Target));
    EXPECT_EQ(range.min, 0.0f) << CalibrationMethodName(method);
    EXPECT_EQ(range.max, 0.0f) << CalibrationMethodName(method);
    auto constant = Make(method);
    ASSERT_THAT(constant->Observe(std::vector<float>(100, 3.0f)), IsOk());
    OCTET_ASSERT_OK_AND_ASSIGN(range, constant->Range(kUint8Target));
    EXPECT_LE(range.max, 3.0f) << CalibrationMethodName(method);
    EXPECT_GT(range.max, 2.9f) << CalibrationMethodName(method);
  }
}

TEST(ObserverTest, RejectsBadOptions) {
  CalibrationOptions options;
  options.method = CalibrationMethod::kPercentile;
  options.percentile = 0.0;
  EXPECT_THAT(MakeRangeObserver(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("percentile 0")));
  options.method = CalibrationMethod::kMovingAverageMinMax;
  options.averaging_constant = 1.5;
  EXPECT_THAT(MakeRangeObserver(options),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(PercentileObserverTest, CutsTheTopOfANonNegativeTensor) {
  std::vector<float> values;
  for (int i = 0; i < 1000; ++i) values.push_back(i / 10.0f);  // 0 .. 99.9
  auto observer = Make(CalibrationMethod::kPercentile, 90.0);
  ASSERT_THAT(observer->Observe(values), IsOk());
  OCTET_ASSERT_OK_AND_ASSIGN(RealRange range, observer->Range(kUint8Target));
  EXPECT_EQ(range.min, 0.0f);
  EXPECT_NEAR(range.max, 90.0f, 0.1f);
}

TEST(PercentileObserverTest, SplitsTheCutBetweenBothTails) {
  std::vector<float> values;
  for (int i = -500; i < 500; ++i) values.push_back(i / 10.0f);  // -50 .. 49.9
  auto observer = Make(CalibrationMethod::kPercentile, 90.0);
  ASSERT_THAT(observer->Observe(values), IsOk());
  OCTET_ASSERT_OK_AND_ASSIGN(RealRange range, observer->Range(kUint8Target));
  EXPECT_NEAR(range.min, -45.0f, 0.1f);
  EXPECT_NEAR(range.max, 45.0f, 0.1f);
}

TEST(HistogramObserverTest, KeepsCountsWhenTheRangeGrows) {
  // The second batch quadruples the range; percentile 50 must still find the median of both.
  auto observer = Make(CalibrationMethod::kPercentile, 50.0);
  std::vector<float> small(1000), large(1000);
  for (int i = 0; i < 1000; ++i) {
    small[i] = i / 1000.0f;        // [0, 1)
    large[i] = 2.0f + i / 500.0f;  // [2, 4)
  }
  ASSERT_THAT(observer->Observe(small), IsOk());
  ASSERT_THAT(observer->Observe(large), IsOk());
  OCTET_ASSERT_OK_AND_ASSIGN(RealRange range, observer->Range(kUint8Target));
  EXPECT_NEAR(range.max, 1.0f, 0.01f);
}

// Squared error of quantizing `values` with the range, in the target format.
double QuantizationError(const std::vector<float>& values, RealRange range,
                         const RangeTarget& target) {
  const ScaleAndZeroPoint sz =
      *ChooseScaleAndZeroPoint(range.min, range.max, target.scheme, target.format);
  double error = 0.0;
  for (float v : values) {
    const float back = DequantizeValue(
        QuantizeValue(v, sz.scale, sz.zero_point, target.format.range()), sz.scale, sz.zero_point);
    error += (v - back) * (v - back);
  }
  return error;
}

// Heavy tails (Laplace), as activations have: clipping the rare large values buys a finer step
// for the rest.
std::vector<float> LaplaceSamples() {
  std::mt19937 generator(7);
  std::exponential_distribution<float> exponential(1.0f);
  std::vector<float> values;
  for (int i = 0; i < 100000; ++i) {
    const float magnitude = exponential(generator);
    values.push_back(i % 2 == 0 ? magnitude : -magnitude);
  }
  return values;
}

TEST(SearchingObserverTest, EntropyAndMseClipHeavyTailsAndBeatMinMax) {
  const std::vector<float> values = LaplaceSamples();
  const RangeTarget target{QuantizationScheme::kSymmetric, {DataType::kInt8, 8, true}};
  auto min_max = Make(CalibrationMethod::kMinMax);
  ASSERT_THAT(min_max->Observe(values), IsOk());
  OCTET_ASSERT_OK_AND_ASSIGN(RealRange full, min_max->Range(target));
  const double full_error = QuantizationError(values, full, target);
  for (auto method : {CalibrationMethod::kEntropy, CalibrationMethod::kMse}) {
    auto observer = Make(method);
    ASSERT_THAT(observer->Observe(values), IsOk());
    OCTET_ASSERT_OK_AND_ASSIGN(RealRange range, observer->Range(target));
    EXPECT_LT(range.max, 0.9f * full.max) << CalibrationMethodName(method);
    EXPECT_GT(range.max, 3.0f) << CalibrationMethodName(method);
    EXPECT_LT(QuantizationError(values, range, target), full_error)
        << CalibrationMethodName(method);
  }
}

TEST(MseObserverTest, KeepsTheFullRangeOfUniformData) {
  std::vector<float> values;
  for (int i = 0; i <= 10000; ++i) values.push_back(i / 10000.0f);
  auto observer = Make(CalibrationMethod::kMse);
  ASSERT_THAT(observer->Observe(values), IsOk());
  OCTET_ASSERT_OK_AND_ASSIGN(RealRange range, observer->Range(kUint8Target));
  EXPECT_GT(range.max, 0.98f);
}

}  // namespace
}  // namespace octet
