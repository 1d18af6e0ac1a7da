#include "engine/tensor/tensor.h"

#include <limits>

#include "engine/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using ::octet::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(TensorTest, CreateZeroFillsAndReportsSizes) {
  OCTET_ASSERT_OK_AND_ASSIGN(Tensor t, Tensor::Create(DataType::kFloat32, {2, 3}));
  EXPECT_EQ(t.element_count(), 6);
  EXPECT_EQ(t.byte_size(), 24u);
  EXPECT_THAT(t.values<float>(), ElementsAre(0, 0, 0, 0, 0, 0));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
}

TEST(TensorTest, CreateRefusesNegativeDims) {
  EXPECT_THAT(Tensor::Create(DataType::kFloat32, {2, -1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("negative dimension -1")));
}

TEST(TensorTest, ElementCountOverflowIsAnErrorNotAWrap) {
  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  EXPECT_THAT(CheckedElementCount({big, 3}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too many elements")));
  EXPECT_THAT(CheckedElementCount({big / 2}, 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too large in bytes")));
  EXPECT_EQ(*CheckedElementCount({0, big, big}), 0);
}

TEST(TensorTest, FromBytesNeedsTheExactSize) {
  const float values[3] = {1, 2, 3};
  EXPECT_THAT(Tensor::FromBytes(DataType::kFloat32, {2, 2}, values, sizeof(values)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs 16 bytes, got 12")));
  OCTET_ASSERT_OK_AND_ASSIGN(Tensor t,
                             Tensor::FromBytes(DataType::kFloat32, {3}, values, sizeof(values)));
  EXPECT_THAT(t.values<float>(), ElementsAre(1, 2, 3));
}

TEST(TensorTest, CopiesShareTheBufferAndCloneDoesNot) {
  Tensor a = Tensor::FromVector<int64_t>({2}, {7, 8});
  Tensor shared = a;
  Tensor cloned = a.Clone();
  a.data<int64_t>()[0] = 9;
  EXPECT_EQ(shared.data<int64_t>()[0], 9);
  EXPECT_EQ(cloned.data<int64_t>()[0], 7);
  EXPECT_THAT(a.Reshaped({1, 2}).shape(), ElementsAre(1, 2));
}

}  // namespace
}  // namespace octet
