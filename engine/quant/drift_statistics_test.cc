#include "engine/quant/drift_statistics.h"

#include <cmath>
#include <limits>

#include "engine/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using ::octet::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(CompareRowsTest, GivesEachRowsSqnrCosineMaxErrorAndAgreement) {
  const Tensor reference = Tensor::FromVector<float>({2, 2}, {3, 4, 1, 0});
  const Tensor candidate = Tensor::FromVector<float>({2, 2}, {3, 3, 0.5f, 0.25f});
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<RowDrift> rows, CompareRows(reference, candidate));
  ASSERT_EQ(rows.size(), 2u);
  // Row 0: signal 25, noise 1; x.y = 21, |x| = 5, |y| = sqrt(18); argmax 1 against 0 (first of
  // a tie).
  EXPECT_NEAR(rows[0].sqnr_db, 13.9794001, 1e-6);
  EXPECT_NEAR(rows[0].cosine, 0.9899495, 1e-6);
  EXPECT_DOUBLE_EQ(rows[0].max_abs_error, 1.0);
  EXPECT_THAT(rows[0].top1_agrees, Optional(false));
  // Row 1: signal 1, noise 0.3125; x.y = 0.5, |y| = sqrt(0.3125); both argmax 0.
  EXPECT_NEAR(rows[1].sqnr_db, 5.0514998, 1e-6);
  EXPECT_NEAR(rows[1].cosine, 0.8944272, 1e-6);
  EXPECT_DOUBLE_EQ(rows[1].max_abs_error, 0.5);
  EXPECT_THAT(rows[1].top1_agrees, Optional(true));
}

TEST(CompareRowsTest, IdenticalAndAllZeroRowsHaveTheirConventionalValues) {
  const Tensor x = Tensor::FromVector<float>({2, 1, 2}, {1, 2, 0, 0});
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<RowDrift> rows, CompareRows(x, x));
  EXPECT_EQ(rows[0].sqnr_db, std::numeric_limits<double>::infinity());
  EXPECT_DOUBLE_EQ(rows[0].cosine, 1.0);
  EXPECT_THAT(rows[0].top1_agrees, Optional(true));  // [N, 1, C] has a class axis
  EXPECT_DOUBLE_EQ(rows[1].cosine, 1.0);
  const Tensor y = Tensor::FromVector<float>({2, 1, 2}, {1, 2, 1, 0});
  OCTET_ASSERT_OK_AND_ASSIGN(rows, CompareRows(x, y));
  EXPECT_EQ(rows[1].sqnr_db, -std::numeric_limits<double>::infinity());
  EXPECT_DOUBLE_EQ(rows[1].cosine, 0.0);
}

TEST(CompareRowsTest, DenseOutputsHaveNoClassAxis) {
  const Tensor map = Tensor::FromVector<float>({1, 2, 2}, {1, 2, 3, 4});
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<RowDrift> rows, CompareRows(map, map));
  EXPECT_EQ(rows[0].top1_agrees, std::nullopt);
  const Tensor scores = Tensor::FromVector<float>({3}, {1, 2, 3});
  OCTET_ASSERT_OK_AND_ASSIGN(rows, CompareRows(scores, scores));
  EXPECT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].top1_agrees, std::nullopt);
}

TEST(CompareRowsTest, RefusesOtherTypesAndShapes) {
  EXPECT_THAT(CompareRows(Tensor::FromVector<float>({1, 2}, {1, 2}),
                          Tensor::FromVector<float>({2, 1}, {1, 2})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("one shape")));
  EXPECT_THAT(
      CompareRows(Tensor::FromVector<int64_t>({1}, {1}), Tensor::FromVector<int64_t>({1}, {1})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("float32")));
}

TEST(QuantizedRangeTest, IsWhatQuantizeLinearRepresentsWithoutSaturating) {
  OCTET_ASSERT_OK_AND_ASSIGN(ValueRange u8, QuantizedRange(0.1f, 10, DataType::kUint8));
  EXPECT_FLOAT_EQ(u8.min, -1.0f);
  EXPECT_FLOAT_EQ(u8.max, 24.5f);
  OCTET_ASSERT_OK_AND_ASSIGN(ValueRange s8, QuantizedRange(0.5f, 0, DataType::kInt8));
  EXPECT_FLOAT_EQ(s8.min, -64.0f);
  EXPECT_FLOAT_EQ(s8.max, 63.5f);
  EXPECT_THAT(QuantizedRange(0.0f, 0, DataType::kUint8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("scale")));
  EXPECT_THAT(QuantizedRange(1.0f, 0, DataType::kInt32),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("int32")));
}

TEST(RangeCoverageTest, CountsValuesOutsideTheClosedRangeAndNaN) {
  RangeCoverage coverage;
  coverage.Add({-1.5f, -1.0f, 0.0f, 24.5f, 25.0f, kNaN}, ValueRange{-1.0f, 24.5f});
  EXPECT_EQ(coverage.values, 6);
  EXPECT_EQ(coverage.out_of_range, 3);
  EXPECT_DOUBLE_EQ(coverage.share(), 0.5);
  RangeCoverage more;
  more.Add({0.0f, 1.0f}, ValueRange{-1.0f, 24.5f});
  coverage.Add(more);
  EXPECT_EQ(coverage.values, 8);
  EXPECT_DOUBLE_EQ(coverage.share(), 3.0 / 8.0);
  EXPECT_DOUBLE_EQ(RangeCoverage{}.share(), 0.0);
}

TEST(SummarizeValuesTest, CountsAndFindsExtremesSkippingNaN) {
  std::vector<float> values(1001, 0.5f);  // longer than any vector register, with a tail
  values[3] = -2.0f;
  values[500] = kNaN;
  values[1000] = 7.0f;
  const ValueSummary summary = SummarizeValues(values, ValueRange{0.0f, 1.0f});
  EXPECT_EQ(summary.coverage.values, 1001);
  EXPECT_EQ(summary.coverage.out_of_range, 3);
  EXPECT_EQ(summary.seen.min, -2.0f);
  EXPECT_EQ(summary.seen.max, 7.0f);
  const ValueSummary empty = SummarizeValues({}, ValueRange{0.0f, 1.0f});
  EXPECT_EQ(empty.coverage.values, 0);
  EXPECT_EQ(empty.seen.min, std::numeric_limits<float>::infinity());
}

TEST(BinnedHistogramTest, PutsValuesInEqualBinsWithOneBelowAndOneAbove) {
  BinnedHistogram histogram(ValueRange{0.0f, 10.0f}, 5);
  histogram.Add({-1.0f, 0.0f, 1.99f, 2.0f, 9.99f, 10.0f, 11.0f, kNaN});
  EXPECT_THAT(histogram.counts(), ::testing::ElementsAre(1, 2, 1, 0, 0, 2, 2));
  EXPECT_EQ(histogram.total(), 8);
  BinnedHistogram point(ValueRange{3.0f, 3.0f}, 5);
  point.Add({2.0f, 3.0f, 4.0f});
  EXPECT_EQ(point.counts()[0], 1);
  EXPECT_EQ(point.counts()[1], 1);
  EXPECT_EQ(point.counts().back(), 1);
}

TEST(BinnedHistogramTest, RebuildsFromStoredCountsAndRefusesBadOnes) {
  OCTET_ASSERT_OK_AND_ASSIGN(BinnedHistogram stored,
                             BinnedHistogram::FromCounts(ValueRange{0, 1}, {1, 2, 3, 4}));
  EXPECT_EQ(stored.bins(), 2);
  EXPECT_EQ(stored.total(), 10);
  EXPECT_THAT(BinnedHistogram::FromCounts(ValueRange{0, 1}, {1, 2}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(BinnedHistogram::FromCounts(ValueRange{0, 1}, {1, -2, 3}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(BinnedHistogram::FromCounts(ValueRange{1, 0}, {1, 2, 3}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(PopulationStabilityIndexTest, MatchesHandComputedValues) {
  OCTET_ASSERT_OK_AND_ASSIGN(BinnedHistogram expected,
                             BinnedHistogram::FromCounts(ValueRange{0, 1}, {0, 50, 50, 0}));
  OCTET_ASSERT_OK_AND_ASSIGN(BinnedHistogram shifted,
                             BinnedHistogram::FromCounts(ValueRange{0, 1}, {0, 25, 75, 0}));
  // (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5); the empty bins add nothing.
  EXPECT_THAT(PopulationStabilityIndex(expected, shifted),
              Optional(::testing::DoubleNear(0.2746531, 1e-6)));
  EXPECT_THAT(PopulationStabilityIndex(expected, expected), Optional(0.0));
  // An emptied bin counts at the floor share: (1 - 0.5) ln 2 + (1e-4 - 0.5) ln(1e-4 / 0.5).
  OCTET_ASSERT_OK_AND_ASSIGN(BinnedHistogram one_bin,
                             BinnedHistogram::FromCounts(ValueRange{0, 1}, {0, 100, 0, 0}));
  EXPECT_THAT(PopulationStabilityIndex(expected, one_bin),
              Optional(::testing::DoubleNear(4.6043185, 1e-6)));
  EXPECT_EQ(PopulationStabilityIndex(expected, BinnedHistogram(ValueRange{0, 1}, 2)), std::nullopt);
}

}  // namespace
}  // namespace octet
