// Seeded class-balanced subsets.
#include <gtest/gtest.h>

#include <map>

#include "data/sampling.h"

namespace cpuinfer {
namespace {

TEST(Sampling, SubsetIsDeterministicAndSpreadOverClasses) {
  std::vector<int> labels;
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < 5; ++i) labels.push_back(c * 100);
  const auto a = spread_subset(labels, 8, 42);
  ASSERT_EQ(a.size(), 8u);
  EXPECT_EQ(a, spread_subset(labels, 8, 42));
  std::map<int, int> per_class;
  for (std::size_t i : a) per_class[labels.at(i)]++;
  EXPECT_EQ(per_class.size(), 4u);
  for (auto [label, n] : per_class) EXPECT_EQ(n, 2) << label;
  EXPECT_NE(a, spread_subset(labels, 8, 7));  // another seed picks other samples
  auto all = spread_subset(labels, 0, 1);     // 0 means all, each once
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), labels.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i);
}

TEST(Sampling, UnevenClassesStillYieldTheCount) {
  const std::vector<int> labels = {0, 0, 0, 0, 0, 0, 1};
  const auto a = spread_subset(labels, 5, 3);
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(std::count_if(a.begin(), a.end(), [&](std::size_t i) { return labels[i] == 1; }), 1);
}

}  // namespace
}  // namespace cpuinfer
