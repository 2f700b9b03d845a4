// Element types: float16 and bfloat16 conversions, Cast's conversion rules, and visit_dtype.
#include "core/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "core/tensor.h"

namespace cpuinfer {
namespace {

TEST(DType, EveryFloat16RoundTripsThroughFloat) {
  for (std::uint32_t bits = 0; bits <= 0xffff; ++bits) {
    Float16 h;
    h.bits = static_cast<std::uint16_t>(bits);
    const float f = static_cast<float>(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(static_cast<float>(Float16(f)))) << bits;
      continue;
    }
    EXPECT_EQ(Float16(f).bits, bits) << "float16 bits " << bits << " -> " << f;
  }
}

TEST(DType, Float16RoundsToNearestEven) {
  EXPECT_EQ(static_cast<float>(Float16(1.0f)), 1.0f);
  EXPECT_EQ(static_cast<float>(Float16(65504.0f)), 65504.0f);             // the largest finite half
  EXPECT_TRUE(std::isinf(static_cast<float>(Float16(65520.0f))));         // halfway to the next: rounds up to inf
  EXPECT_EQ(static_cast<float>(Float16(1.0f + 0x1p-11f)), 1.0f);          // a tie goes to the even mantissa
  EXPECT_EQ(static_cast<float>(Float16(1.0f + 3 * 0x1p-11f)), 1.0f + 0x1p-9f);
  EXPECT_EQ(static_cast<float>(Float16(0x1p-24f)), 0x1p-24f);             // the smallest subnormal
  EXPECT_EQ(static_cast<float>(Float16(0x1p-26f)), 0.0f);                 // below half of it
  EXPECT_EQ(static_cast<float>(Float16(0x1.8p-25f)), 0x1p-24f);           // above half of it
  EXPECT_EQ(std::signbit(static_cast<float>(Float16(-0.0f))), true);
}

TEST(DType, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f + 0x1p-8f)), 1.0f);           // a tie, to even
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f + 3 * 0x1p-8f)), 1.0f + 0x1p-6f);
  EXPECT_EQ(static_cast<float>(BFloat16(0.478515625f)), 0.478515625f);     // exactly representable
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isinf(static_cast<float>(BFloat16(std::numeric_limits<float>::max()))));
}

TEST(DType, ConvertSaturatesFloatsToIntegersAndMapsNaNToZero) {
  EXPECT_EQ(convert<std::uint8_t>(300.0f), 255);
  EXPECT_EQ(convert<std::uint8_t>(-3.0f), 0);
  EXPECT_EQ(convert<std::int8_t>(-1e9), -128);
  EXPECT_EQ(convert<std::int64_t>(std::numeric_limits<double>::quiet_NaN()), 0);
  EXPECT_EQ(convert<bool>(0.25f), true);
  EXPECT_EQ(convert<std::uint16_t>(std::int32_t{-1}), 0xffff);  // integers wrap, as C++ and numpy do
  EXPECT_EQ(static_cast<float>(convert<Float16>(std::int64_t{3})), 3.0f);
}

TEST(DType, CastConvertsEveryElementAndKeepsTheShape) {
  Tensor x(DType::f32, {2, 2});
  auto v = x.values<float>();
  v[0] = 1.5f, v[1] = -2.0f, v[2] = 1e6f, v[3] = 0.1f;
  const Tensor h = cast(x, DType::f16);
  EXPECT_EQ(h.dtype(), DType::f16);
  EXPECT_EQ(h.shape(), x.shape());
  const Tensor back = cast(h, DType::f32);
  EXPECT_EQ(back.values<float>()[0], 1.5f);
  EXPECT_EQ(back.values<float>()[1], -2.0f);
  EXPECT_TRUE(std::isinf(back.values<float>()[2]));
  EXPECT_NEAR(back.values<float>()[3], 0.1f, 1e-4f);
  EXPECT_EQ(cast(x, DType::u8).values<std::uint8_t>()[2], 255);
}

TEST(DType, VisitRefusesATypeOutsideItsList) {
  EXPECT_EQ(visit_dtype<AllTypes>(DType::u16, [](auto tag) { return sizeof(tag); }), 2u);
  try {
    visit_dtype<NumericTypes>(DType::bf16, [](auto) {});
    FAIL() << "accepted bfloat16";
  } catch (const Unsupported& e) {
    EXPECT_STREQ(e.what(), "element type bfloat16 is not supported");
  }
  for (DType t : dtypes(AllTypes{})) EXPECT_NE(dtype_name(t), "?");
}

}  // namespace
}  // namespace cpuinfer
