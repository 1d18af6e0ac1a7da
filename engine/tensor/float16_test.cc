// The float16 conversions: every half survives the trip to float and back; floats round to the
// nearest half, ties to even, through normals, subnormals, overflow and NaN.
#include "engine/tensor/float16.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "gtest/gtest.h"

namespace octet {
namespace {

bool IsNanHalf(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

TEST(Float16Test, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h <= 0xffffu; ++h) {
    const auto half = static_cast<uint16_t>(h);
    const float value = HalfToFloat(half);
    if (IsNanHalf(half)) {
      EXPECT_TRUE(std::isnan(value)) << h;
      EXPECT_TRUE(IsNanHalf(FloatToHalf(value))) << h;
      continue;
    }
    EXPECT_EQ(FloatToHalf(value), half) << h;
  }
}

TEST(Float16Test, KnownValues) {
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(HalfToFloat(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7c00)));
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);  // below the midpoint to 65536
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // the midpoint: ties to even, infinity
  EXPECT_EQ(FloatToHalf(1e9f), 0x7c00);
  EXPECT_EQ(FloatToHalf(-1e9f), 0xfc00);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);         // half the smallest: to even 0
  EXPECT_EQ(FloatToHalf(std::ldexp(1.5f, -25)), 0x0001);         // above the midpoint
  EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -25)), 0x0002);         // 1.5 subnormal steps: to even 2
  EXPECT_EQ(FloatToHalf(-std::ldexp(1.0f, -30)), 0x8000);        // underflow keeps the sign
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie between 1 and 1+2^-10
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie: to even mantissa 2
  EXPECT_TRUE(IsNanHalf(FloatToHalf(std::numeric_limits<float>::quiet_NaN())));
}

// A float's half is the nearest one (ties to even) among its neighbours, over random floats of
// every magnitude the halves cover.
TEST(Float16Test, RoundsToNearestEven) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> exponent(-26.0f, 16.0f), sign(-1.0f, 1.0f);
  for (int i = 0; i < 200000; ++i) {
    const float value = std::copysign(std::exp2(exponent(rng)), sign(rng));
    const uint16_t h = FloatToHalf(value);
    const double error = std::abs(static_cast<double>(HalfToFloat(h)) - value);
    for (const int step : {-1, 1}) {
      const auto neighbour = static_cast<uint16_t>(h + step);
      if ((h & 0x7fffu) == 0 && step == -1) continue;  // no smaller magnitude than zero
      if (IsNanHalf(neighbour) || (neighbour & 0x7c00u) == 0x7c00u) continue;
      if (((neighbour ^ h) & 0x8000u) != 0) continue;  // crossed the sign
      const double other = std::abs(static_cast<double>(HalfToFloat(neighbour)) - value);
      if (std::isinf(HalfToFloat(h))) continue;
      ASSERT_LE(error, other) << value;
      if (error == other) {
        ASSERT_EQ(h & 1u, 0u) << value;
      }
    }
  }
}

}  // namespace
}  // namespace octet
