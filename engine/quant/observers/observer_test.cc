#include <cmath>
#include <iterator>
#include <random>

#include "engine/base/status_matchers.h"
#include "engine/quant/observers/auto_observer.h"
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

// Squared error of quantizing `values` with `range`, after `f`.
template <typename F>
double ErrorAfter(const std::vector<float>& values, RealRange range, const RangeTarget& target,
                  F f) {
  auto sz = ChooseScaleAndZeroPoint(range.min, range.max, target.scheme, target.format);
  double error = 0.0;
  for (float v : values) {
    const float q =
        DequantizeValue(QuantizeValue(v, sz->scale, sz->zero_point, target.format.range()),
                        sz->scale, sz->zero_point);
    const double d = f(v) - f(q);
    error += d * d;
  }
  return error;
}

TEST(MseObserverTest, MeasuresTheErrorAfterASigmoidWhenThatIsHowTheTensorIsRead) {
  // Logits: most far below 0, a quarter near the decision.
  std::mt19937 generator(5);
  std::uniform_real_distribution<float> background(-1000.0f, -200.0f), edge(-6.0f, 6.0f);
  std::vector<float> values;
  for (int i = 0; i < 40000; ++i) {
    values.push_back(i % 4 == 0 ? edge(generator) : background(generator));
  }
  auto sigmoid = [](float x) { return 1.0 / (1.0 + std::exp(-static_cast<double>(x))); };
  RangeTarget in_values = kUint8Target;
  RangeTarget after_sigmoid = kUint8Target;
  after_sigmoid.error_space = ErrorSpace::kSigmoid;
  auto observer = Make(CalibrationMethod::kMse);
  ASSERT_THAT(observer->Observe(values), IsOk());
  OCTET_ASSERT_OK_AND_ASSIGN(RealRange for_values, observer->Range(in_values));
  OCTET_ASSERT_OK_AND_ASSIGN(RealRange for_sigmoid, observer->Range(after_sigmoid));
  EXPECT_LT(for_values.min, -500.0f);
  // The tail is clipped, the positive side kept (the ends move on their own).
  EXPECT_GT(for_sigmoid.min, -50.0f);
  EXPECT_GT(for_sigmoid.max, 5.0f);
  const double sigmoid_error = ErrorAfter(values, for_sigmoid, after_sigmoid, sigmoid);
  EXPECT_LT(sigmoid_error, 0.01 * ErrorAfter(values, for_values, after_sigmoid, sigmoid));
  auto identity = [](float x) { return static_cast<double>(x); };
  EXPECT_LT(ErrorAfter(values, for_values, in_values, identity),
            ErrorAfter(values, for_sigmoid, in_values, identity));
}

TEST(MseObserverTest, ShrinksTheEndsOfAnAsymmetricRangeSeparately) {
  // A long thin negative tail and a dense positive side: shrinking both ends by one factor
  // would clip the positive values to clip the tail.
  std::mt19937 generator(9);
  std::uniform_real_distribution<float> dense(0.0f, 4.0f), tail(-400.0f, 0.0f);
  std::vector<float> values;
  for (int i = 0; i < 40000; ++i)
    values.push_back(i % 1000 == 0 ? tail(generator) : dense(generator));
  auto observer = Make(CalibrationMethod::kMse);
  ASSERT_THAT(observer->Observe(values), IsOk());
  OCTET_ASSERT_OK_AND_ASSIGN(RealRange range, observer->Range(kUint8Target));
  EXPECT_GT(range.max, 3.9f);
  EXPECT_GT(range.min, -400.0f);
  EXPECT_LT(QuantizationError(values, range, kUint8Target),
            QuantizationError(values, {-400.0f, 4.0f}, kUint8Target));
}

TEST(AutoObserverTest, GivesEachCandidatesRangeFromOneHistogram) {
  const std::vector<float> values = LaplaceSamples();
  CalibrationOptions options;
  options.method = CalibrationMethod::kAuto;
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RangeObserver> automatic, MakeRangeObserver(options));
  ASSERT_THAT(automatic->Observe(values), IsOk());
  OCTET_ASSERT_OK_AND_ASSIGN(auto candidates,
                             static_cast<AutoObserver&>(*automatic).CandidateRanges(kUint8Target));
  ASSERT_EQ(candidates.size(), std::size(kAutoCandidates));
  for (size_t i = 0; i < candidates.size(); ++i) {
    EXPECT_EQ(candidates[i].first, kAutoCandidates[i]);
    auto alone = Make(kAutoCandidates[i]);
    ASSERT_THAT(alone->Observe(values), IsOk());
    OCTET_ASSERT_OK_AND_ASSIGN(RealRange expected, alone->Range(kUint8Target));
    EXPECT_EQ(candidates[i].second.min, expected.min) << CalibrationMethodName(kAutoCandidates[i]);
    EXPECT_EQ(candidates[i].second.max, expected.max) << CalibrationMethodName(kAutoCandidates[i]);
  }
  OCTET_ASSERT_OK_AND_ASSIGN(RealRange first, automatic->Range(kUint8Target));
  EXPECT_EQ(first.max, candidates[0].second.max);
  options.percentile = 0;
  EXPECT_THAT(MakeRangeObserver(options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("percentile 0")));
}

}  // namespace
}  // namespace octet
