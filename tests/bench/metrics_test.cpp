// Latency percentiles and agreement metrics.
#include <gtest/gtest.h>

#include <cmath>

#include "bench/metrics.h"
#include "core/significant_digits.h"

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

TEST(LatencyStats, PercentilesNeedEnoughBatches) {
  EXPECT_EQ(batches_needed(0.5), 2u);
  EXPECT_EQ(batches_needed(0.9), 10u);
  EXPECT_EQ(batches_needed(0.99), 100u);
  std::vector<double> v(9);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i + 1);  // 1..9
  LatencyStats s = summarize(v);
  EXPECT_EQ(s.count, 9u);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_DOUBLE_EQ(s.min, 1.0);
  EXPECT_DOUBLE_EQ(s.max, 9.0);
  EXPECT_NEAR(s.stddev, std::sqrt(7.5), 1e-12);  // numpy.std(range(1, 10), ddof=1)
  ASSERT_TRUE(s.p50.has_value());
  EXPECT_DOUBLE_EQ(*s.p50, 5.0);
  EXPECT_FALSE(s.p90.has_value());  // 9 < 10 batches
  EXPECT_FALSE(s.p99.has_value());
  v.push_back(10.0);
  s = summarize(v);
  ASSERT_TRUE(s.p90.has_value());
  EXPECT_NEAR(*s.p90, 9.1, 1e-12);
  EXPECT_FALSE(s.p99.has_value());
  s = summarize({4.0});
  EXPECT_EQ(s.stddev, 0.0);
  EXPECT_FALSE(s.p50.has_value());
  EXPECT_EQ(summarize({}).count, 0u);
}

TEST(SignificantDigits, ThreeAtAnyScale) {
  EXPECT_EQ(significant_digits(1234.5), "1234");
  EXPECT_EQ(significant_digits(123.4), "123");
  EXPECT_EQ(significant_digits(12.34), "12.3");
  EXPECT_EQ(significant_digits(1.234), "1.23");
  EXPECT_EQ(significant_digits(0.04321), "0.0432");  // 43 us: not "0.0"
  EXPECT_EQ(significant_digits(0.0), "0");
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

TEST(Agreement, NonFiniteValuesAreCountedNotAveragedAway) {
  Agreement a;
  const std::vector<float> ref = {1.0f, 2.0f, INFINITY, NAN}, out = {std::nanf(""), 2.5f, INFINITY, NAN};
  a.add(out, ref, 0);
  EXPECT_EQ(a.nonfinite_mismatches, 1u);  // the NaN where the reference has 1; inf = inf and NaN ~ NaN agree
  EXPECT_DOUBLE_EQ(a.max_abs_diff, 0.5);  // over the values finite on both sides
  const std::vector<float> minus = {1.0f, 2.0f, -INFINITY, 0.0f};
  a.add(minus, ref, 0);
  EXPECT_EQ(a.nonfinite_mismatches, 3u);  // -inf against +inf, a number against NaN
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
