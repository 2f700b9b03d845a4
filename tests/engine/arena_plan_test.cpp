// plan_arena: blocks alive at the same step never overlap, on random traces; blocks that never meet
// share a place; blocks that outlive the run get none.
#include "engine/memory/arena_plan.h"

#include <gtest/gtest.h>

#include <random>

namespace cpuinfer::engine {
namespace {

bool alive_together(const BlockUse& a, const BlockUse& b) { return a.first <= b.last && b.first <= a.last; }

TEST(ArenaPlan, BlocksAliveTogetherNeverOverlapOnRandomTraces) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    SCOPED_TRACE(trial);
    const std::size_t steps = 1 + rng() % 30;
    std::vector<BlockUse> blocks;
    for (std::size_t step = 0; step < steps; ++step)
      for (std::size_t k = rng() % 4; k > 0; --k)
        blocks.push_back({64 * (1 + rng() % 50), step, rng() % 10 == 0 ? kOutlivesRun : step + rng() % 6});
    const ArenaPlan plan = plan_arena(blocks);
    std::size_t live_peak = 0;
    for (std::size_t step = 0; step < steps + 6; ++step) {
      std::size_t live = 0;
      for (const BlockUse& b : blocks)
        if (b.last != kOutlivesRun && b.first <= step && step <= b.last) live += b.bytes;
      live_peak = std::max(live_peak, live);
    }
    EXPECT_GE(plan.bytes, live_peak);
    EXPECT_LE(plan.bytes, 2 * live_peak + 64 * 50);  // greedy by size stays near the peak
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      ASSERT_EQ(plan.offsets[i].has_value(), blocks[i].last != kOutlivesRun);
      if (!plan.offsets[i]) continue;
      EXPECT_EQ(*plan.offsets[i] % 64, 0u);
      EXPECT_LE(*plan.offsets[i] + blocks[i].bytes, plan.bytes);
      for (std::size_t j = 0; j < i; ++j) {
        if (!plan.offsets[j] || !alive_together(blocks[i], blocks[j])) continue;
        const bool disjoint = *plan.offsets[i] + blocks[i].bytes <= *plan.offsets[j] ||
                              *plan.offsets[j] + blocks[j].bytes <= *plan.offsets[i];
        EXPECT_TRUE(disjoint) << "blocks " << j << " and " << i << " overlap";
      }
    }
  }
}

TEST(ArenaPlan, BlocksThatNeverMeetShareAPlace) {
  // a and b die before c and d are made: the arena is the larger pair, not the sum.
  const std::vector<BlockUse> blocks{{256, 0, 1}, {128, 0, 1}, {256, 2, 3}, {128, 2, 3}, {64, 0, kOutlivesRun}};
  const ArenaPlan plan = plan_arena(blocks);
  EXPECT_EQ(plan.bytes, 384u);
  EXPECT_EQ(plan.offsets[0], plan.offsets[2]);
  EXPECT_FALSE(plan.offsets[4].has_value());  // the run's result
}

}  // namespace
}  // namespace cpuinfer::engine
