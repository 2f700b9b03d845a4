// Batch plans of the padding strategies: every sample once, lengths as promised, bucketing cuts padding.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "bench/text_classification_workload.h"
#include "core/error.h"

namespace cpuinfer {
namespace {

std::vector<std::size_t> random_lengths(std::size_t n) {
  std::mt19937 rng(3);
  std::vector<std::size_t> lengths(n);
  for (auto& l : lengths) l = 3 + rng() % 200;
  return lengths;
}

std::size_t computed_tokens(const std::vector<PlannedBatch>& plan) {
  std::size_t t = 0;
  for (const auto& b : plan) t += b.samples.size() * b.length;
  return t;
}

TEST(PaddingPlan, EveryFullBatchSampleOnceAndLengthsFit) {
  const auto lengths = random_lengths(103);
  for (const std::string strategy : {"longest", "max", "bucket"}) {
    SCOPED_TRACE(strategy);
    const auto plan = plan_padded_batches(lengths, 8, strategy, 512);
    ASSERT_EQ(plan.size(), 12u);  // 103 / 8, the last incomplete batch dropped
    std::vector<std::size_t> seen;
    for (const auto& b : plan) {
      ASSERT_EQ(b.samples.size(), 8u);
      std::size_t longest = 0;
      for (std::size_t s : b.samples) longest = std::max(longest, lengths[s]);
      EXPECT_EQ(b.length, strategy == "max" ? 512 : longest);
      seen.insert(seen.end(), b.samples.begin(), b.samples.end());
    }
    std::sort(seen.begin(), seen.end());
    for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i);
  }
}

TEST(PaddingPlan, BucketingPadsLessAndStaysWithinWindows) {
  const auto lengths = random_lengths(256);
  const auto longest = plan_padded_batches(lengths, 8, "longest", 512);
  const auto bucket = plan_padded_batches(lengths, 8, "bucket", 512);
  EXPECT_LT(computed_tokens(bucket), computed_tokens(longest) * 3 / 4);
  for (std::size_t b = 0; b < bucket.size(); ++b)
    for (std::size_t s : bucket[b].samples) EXPECT_EQ(s / (kBucketWindow * 8), b / kBucketWindow);
  EXPECT_EQ(plan_padded_batches(lengths, 1, "bucket", 512).size(), 256u);
  EXPECT_THROW(plan_padded_batches(lengths, 8, "shortest", 512), Error);
}

}  // namespace
}  // namespace cpuinfer
