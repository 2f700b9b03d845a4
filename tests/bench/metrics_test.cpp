// Latency percentiles and agreement metrics.
#include <gtest/gtest.h>

#include <cmath>

#include "bench/metrics.h"

namespace cpuinfer {
namespace {

TEST(Percentile, LinearInterpolationLikeNumpy) {
  // numpy.percentile([1, 2, 3, 4], [50, 90, 99]) = 2.5, 3.7, 3.97
  const std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(percentile(v, 0.5), 2.5);
  EXPECT_NEAR(percentile(v, 0.9), 3.7, 1e-12);
  EXPECT_NEAR(percentile(v, 0.99), 3.97, 1e-12);
  EXPECT_DOUBLE_EQ(percentile({5.0}, 0.99), 5.0);
  EXPECT_TRUE(std::isnan(percentile({}, 0.5)));
}

TEST(Agreement, CountsTop1AndDifferences) {
  Agreement a;
  EXPECT_FALSE(a.top1_agreement().has_value());
  const std::vector<float> ref1 = {0.1f, 2.0f, -1.0f}, out1 = {0.1f, 1.5f, -1.0f};
  const std::vector<float> ref2 = {3.0f, 1.0f, 0.0f}, out2 = {0.0f, 1.0f, 4.0f};
  a.add(out1, ref1, 3);
  a.add(out2, ref2, 3);
  EXPECT_EQ(a.compared, 2u);
  EXPECT_DOUBLE_EQ(*a.top1_agreement(), 0.5);
  EXPECT_DOUBLE_EQ(a.max_abs_diff, 4.0);
  EXPECT_DOUBLE_EQ(*a.max_rel_diff(), 4.0 / 3.0);
}

TEST(Agreement, NanOutputIsInfinitelyFar) {
  Agreement a;
  const std::vector<float> ref = {1.0f, 2.0f}, out = {std::nanf(""), 2.0f};
  a.add(out, ref, 2);
  EXPECT_TRUE(std::isinf(a.max_abs_diff));
}

TEST(Agreement, ValuesOnlyWithoutTop1) {
  Agreement a;
  const std::vector<float> ref = {1.0f, 2.0f, 3.0f}, out = {1.0f, 2.5f, 3.0f};
  a.add(out, ref, 0);
  EXPECT_EQ(a.compared, 1u);
  EXPECT_FALSE(a.top1_agreement().has_value());
  EXPECT_DOUBLE_EQ(a.max_abs_diff, 0.5);
  EXPECT_DOUBLE_EQ(*a.max_rel_diff(), 0.5 / 3.0);
}

}  // namespace
}  // namespace cpuinfer
