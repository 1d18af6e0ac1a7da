#include "engine/quant/output_agreement.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using Kind = AgreementRule::Kind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ChooseAgreementTest, ReadsTheKindOfOutputFromItsShape) {
  EXPECT_EQ(ChooseAgreement({8, 10}, std::nullopt, 0.5f).kind, Kind::kClass);
  EXPECT_EQ(ChooseAgreement({8, 1, 1, 10}, std::nullopt, 0.5f).kind, Kind::kClass);
  const AgreementRule segmentation = ChooseAgreement({8, 21, 32, 32}, std::nullopt, 0.5f);
  EXPECT_EQ(segmentation.kind, Kind::kArgmaxMap);
  EXPECT_EQ(segmentation.axis, 1);
  EXPECT_THAT(segmentation.metric, HasSubstr("axis 1"));
  const AgreementRule sequence = ChooseAgreement({8, 40, 97}, std::nullopt, 0.5f);
  EXPECT_EQ(sequence.kind, Kind::kArgmaxMap);
  EXPECT_EQ(sequence.axis, 2);
  EXPECT_THAT(sequence.metric, HasSubstr("per-step"));
  const AgreementRule probability = ChooseAgreement({8, 1, 64, 64}, std::nullopt, 0.3f);
  EXPECT_EQ(probability.kind, Kind::kThreshold);
  EXPECT_FLOAT_EQ(probability.threshold, 0.3f);
  EXPECT_EQ(ChooseAgreement({8, 1}, std::nullopt, 0.5f).kind, Kind::kThreshold);
  const AgreementRule scores = ChooseAgreement({8}, std::nullopt, 0.5f);
  EXPECT_EQ(scores.kind, Kind::kNone);
  EXPECT_FALSE(scores.note.empty());
}

TEST(ChooseAgreementTest, AConfiguredAxisWinsAndAWrongOneIsANote) {
  // Channels-last segmentation: classes on the last axis.
  const AgreementRule nhwc = ChooseAgreement({2, 16, 16, 5}, -1, 0.5f);
  EXPECT_EQ(nhwc.kind, Kind::kArgmaxMap);
  EXPECT_EQ(nhwc.axis, 3);
  EXPECT_EQ(ChooseAgreement({2, 7, 1}, 1, 0.5f).kind, Kind::kClass);
  const AgreementRule wrong = ChooseAgreement({2, 10}, 3, 0.5f);
  EXPECT_EQ(wrong.kind, Kind::kNone);
  EXPECT_THAT(wrong.note, HasSubstr("class axis 3"));
  EXPECT_EQ(ChooseAgreement({2, 10}, 0, 0.5f).kind, Kind::kNone);
}

TEST(ArgMaxAlongTest, TakesTheFirstMaximumAtEveryOtherPosition) {
  // [1, 3, 2]: over axis 1, position 0 sees 0, 2, 2 and position 1 sees 5, 5, 1; over axis 2,
  // rows (0, 5), (2, 5), (2, 1).
  const Tensor t = Tensor::FromVector<float>({1, 3, 2}, {0, 5, 2, 5, 2, 1});
  EXPECT_THAT(ArgMaxAlong(t, 1), ElementsAre(1, 0));
  EXPECT_THAT(ArgMaxAlong(t, 2), ElementsAre(1, 1, 0));
}

TEST(CountAgreementTest, CountsPlantedAgreementsForEachKind) {
  // Classes: 3 samples, the second disagrees.
  const Tensor a = Tensor::FromVector<float>({3, 2}, {1, 0, 0, 1, 1, 0});
  const Tensor b = Tensor::FromVector<float>({3, 2}, {1, 0, 1, 0, 1, 0});
  const AgreementCount classes =
      CountAgreement(a, b, ChooseAgreement(a.shape(), std::nullopt, 0.5f));
  EXPECT_EQ(classes.agree, 2);
  EXPECT_EQ(classes.positions, 3);
  // A 2-class map of 1 x 2 x 2 pixels: 3 of 4 pixels agree.
  const Tensor ma = Tensor::FromVector<float>({1, 2, 2, 2}, {1, 1, 0, 0, 0, 0, 1, 1});
  const Tensor mb = Tensor::FromVector<float>({1, 2, 2, 2}, {1, 1, 0, 1, 0, 0, 1, 0});
  const AgreementCount map =
      CountAgreement(ma, mb, ChooseAgreement(ma.shape(), std::nullopt, 0.5f));
  EXPECT_EQ(map.agree, 3);
  EXPECT_EQ(map.positions, 4);
  // A probability map thresholded at 0.5: values on either side of it.
  const Tensor pa = Tensor::FromVector<float>({1, 1, 2, 2}, {0.2f, 0.6f, 0.51f, 0.9f});
  const Tensor pb = Tensor::FromVector<float>({1, 1, 2, 2}, {0.3f, 0.4f, 0.49f, 0.8f});
  const AgreementCount probability =
      CountAgreement(pa, pb, ChooseAgreement(pa.shape(), std::nullopt, 0.5f));
  EXPECT_EQ(probability.agree, 2);
  EXPECT_EQ(probability.positions, 4);
  // A sequence of 3 steps over 2 classes, per step: 2 of 3 agree.
  const Tensor sa = Tensor::FromVector<float>({1, 3, 2}, {1, 0, 0, 1, 1, 0});
  const Tensor sb = Tensor::FromVector<float>({1, 3, 2}, {1, 0, 0, 1, 0, 1});
  const AgreementCount sequence =
      CountAgreement(sa, sb, ChooseAgreement(sa.shape(), std::nullopt, 0.5f));
  EXPECT_EQ(sequence.agree, 2);
  EXPECT_EQ(sequence.positions, 3);
  EXPECT_EQ(CountAgreement(sa, sb, AgreementRule()).positions, 0);
}

}  // namespace
}  // namespace octet
