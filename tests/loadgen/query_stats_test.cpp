// loadgen's figures (loadgen/query_stats.h): the early-stopping estimate against its definition,
// computed here another way, and latencies that count from the intended send time.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "loadgen/query_stats.h"

namespace cpuinfer::loadgen {
namespace {

// P(Binomial(n, q) <= k), as 1 - its upper tail, summed down from P(n) = q^n by the pmf's
// recurrence in long double.
long double binomial_cdf(std::size_t n, long double q, std::size_t k) {
  long double pmf = std::pow(q, static_cast<long double>(n)), tail = 0;
  for (std::size_t j = n; j > k; --j) {
    tail += pmf;
    pmf *= static_cast<long double>(j) / static_cast<long double>(n - j + 1) * (1 - q) / q;
  }
  return 1 - tail;
}

TEST(QueryStats, EarlyStoppingIsTheSmallestOrderStatisticThatBoundsTheQuantile) {
  for (const double q : {0.9, 0.99}) {
    for (const std::size_t n : {50u, 300u, 1024u, 5000u}) {
      std::vector<double> sorted(n);
      for (std::size_t i = 0; i < n; ++i) sorted[i] = static_cast<double>(i + 1);  // x(k) = k
      const auto estimate = early_stopping_estimate(sorted, q);
      const std::size_t needed = static_cast<std::size_t>(std::ceil(std::log(0.01) / std::log(q)));
      if (n < needed) {
        EXPECT_FALSE(estimate) << "n " << n << " q " << q;
        continue;
      }
      ASSERT_TRUE(estimate) << "n " << n << " q " << q;
      const auto k = static_cast<std::size_t>(*estimate);
      EXPECT_GE(binomial_cdf(n, q, k - 1), 0.99L) << "n " << n << " q " << q;
      EXPECT_LT(binomial_cdf(n, q, k - 2), 0.99L) << "n " << n << " q " << q;
      EXPECT_GT(k, static_cast<std::size_t>(q * static_cast<double>(n))) << "an upper bound lies above the sample quantile";
    }
  }
  // The fewest queries that support a percentile at all: 44 for p90, 459 for p99.
  EXPECT_TRUE(early_stopping_estimate(std::vector<double>(44, 1.0), 0.9));
  EXPECT_FALSE(early_stopping_estimate(std::vector<double>(43, 1.0), 0.9));
  EXPECT_TRUE(early_stopping_estimate(std::vector<double>(459, 1.0), 0.99));
  EXPECT_FALSE(early_stopping_estimate(std::vector<double>(458, 1.0), 0.99));
}

TEST(QueryStats, LatencyCountsFromTheIntendedSendAndErrorsCountApart) {
  std::vector<QueryRecord> records;
  // Meant at 0, 0.1, ...; the generator sent each 5 ms late; answered 10 ms after sending.
  for (int i = 0; i < 10; ++i) records.push_back({0.1 * i, 0.1 * i + 0.005, 0.1 * i + 0.015, 2, std::nullopt});
  records.push_back({1.0, 1.0, 1.5, 2, std::string("HTTP 503: queue full")});
  const QueryStats s = summarize_queries(records, 2.0);
  EXPECT_EQ(s.queries, 10u);
  EXPECT_EQ(s.samples, 20u);
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(s.first_error, "HTTP 503: queue full");
  EXPECT_NEAR(s.p50_ms, 15.0, 1e-9);
  EXPECT_NEAR(s.max_ms, 15.0, 1e-9);
  EXPECT_NEAR(s.lag_p50_us, 5000.0, 1e-6);
  EXPECT_NEAR(s.qps, 5.0, 1e-12);
  EXPECT_NEAR(s.samples_per_s, 10.0, 1e-12);
}

}  // namespace
}  // namespace cpuinfer::loadgen
