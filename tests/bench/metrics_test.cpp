// Latency percentiles and agreement metrics.
#include <gtest/gtest.h>

#include <cmath>

#include "bench/metrics.h"
#include "bench/tolerance.h"
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

TEST(Argmax, NanIsTheLargestAsInNumpy) {
  const float nan = std::nanf("");
  EXPECT_EQ(argmax(std::vector<float>{1, 3, 2}), 1u);
  EXPECT_EQ(argmax(std::vector<float>{nan, 3, 2}), 0u);
  EXPECT_EQ(argmax(std::vector<float>{1, 3, nan, nan}), 2u);
  // A reference with a NaN in front and an output without: top-1 differs (it used to agree on 0).
  Agreement a;
  a.add(std::vector<float>{0, 5, 1}, std::vector<float>{nan, 5, 1}, 3);
  EXPECT_EQ(a.top1_equal, 0u);
}

TEST(Tolerance, RowBeyondItsPrecisionsToleranceDisagrees) {
  EXPECT_DOUBLE_EQ(default_tolerance(Precision::f32), 1e-4);
  EXPECT_GT(default_tolerance(Precision::bf16), default_tolerance(Precision::f32));
  EXPECT_GT(default_tolerance(Precision::int8), default_tolerance(Precision::bf16));
  EXPECT_EQ(default_tolerances_text(), "float32 0.0001, bfloat16 0.05, int8 0.25");
  EXPECT_EQ(row_precision(Precision::f32, true), Precision::int8);  // any backend on a quantized model
  EXPECT_EQ(row_precision(Precision::bf16, false), Precision::bf16);
  EXPECT_EQ(agreement_status(5e-5, 5e-5, 4, 1e-4), "ok");
  EXPECT_EQ(agreement_status(1.0, 1.0, 4, 1e-4), "disagrees: max_rel_diff 1 > 0.0001");
  EXPECT_EQ(agreement_status(std::nullopt, 0.5, 4, 1e-4), "disagrees: max_abs_diff 0.5 where the reference is all zero");
  EXPECT_EQ(agreement_status(std::nullopt, 0.0, 4, 1e-4), "ok");  // both all zero
  EXPECT_EQ(agreement_status(std::nullopt, 0.0, 0, 1e-4), "ok");  // nothing compared: the reference's own first row
}

}  // namespace
}  // namespace cpuinfer
