// plan_arena: blocks alive at the same step never overlap, on random traces; in-place chains share
// a place; blocks that outlive the run get none.
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
    for (std::size_t step = 0; step < steps; ++step) {
      const std::size_t made = rng() % 4;
      for (std::size_t k = 0; k < made; ++k) {
        BlockUse b;
        b.bytes = 64 * (1 + rng() % 50);
        b.first = step;
        b.last = rng() % 10 == 0 ? kOutlivesRun : step + rng() % 6;
        // Sometimes a claim to overwrite an earlier block, valid or not: the planner checks it.
        if (!blocks.empty() && rng() % 3 == 0) {
          b.overwrite = rng() % blocks.size();
          if (rng() % 2) b.bytes = blocks[*b.overwrite].bytes;
        }
        blocks.push_back(b);
      }
    }
    const ArenaPlan plan = plan_arena(blocks);
    std::size_t live_peak = 0;
    for (std::size_t step = 0; step < steps + 6; ++step) {
      std::size_t live = 0;
      for (const BlockUse& b : blocks)
        if (b.last != kOutlivesRun && b.first <= step && step <= b.last) live += b.bytes;
      live_peak = std::max(live_peak, live);
    }
    EXPECT_LE(plan.bytes, 2 * live_peak + 64 * 50);  // greedy by size stays near the peak
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      ASSERT_EQ(plan.offsets[i].has_value(), blocks[i].last != kOutlivesRun);
      if (!plan.offsets[i]) continue;
      EXPECT_EQ(*plan.offsets[i] % 64, 0u);
      EXPECT_LE(*plan.offsets[i] + blocks[i].bytes, plan.bytes);
      for (std::size_t j = 0; j < i; ++j) {
        if (!plan.offsets[j] || !alive_together(blocks[i], blocks[j])) continue;
        const bool shared = plan.over_input[i] && blocks[i].overwrite == j;
        if (shared) {
          EXPECT_EQ(*plan.offsets[i], *plan.offsets[j]);
          EXPECT_EQ(blocks[j].last, blocks[i].first);
          continue;
        }
        // In a chain j -> k -> i, i may share j's place only if j died before i was made.
        const bool disjoint = *plan.offsets[i] + blocks[i].bytes <= *plan.offsets[j] ||
                              *plan.offsets[j] + blocks[j].bytes <= *plan.offsets[i];
        EXPECT_TRUE(disjoint) << "blocks " << j << " and " << i << " overlap";
      }
    }
  }
}

TEST(ArenaPlan, AnElementwiseChainSharesOnePlace) {
  // a (step 0) -> b over a (step 1) -> c over b (step 2); d lives beside all of them.
  std::vector<BlockUse> blocks{{256, 0, 1, std::nullopt}, {256, 1, 2, 0}, {256, 2, 3, 1}, {128, 0, 3, std::nullopt}};
  const ArenaPlan plan = plan_arena(blocks);
  EXPECT_EQ(plan.in_place, 2u);
  EXPECT_EQ(plan.offsets[0], plan.offsets[1]);
  EXPECT_EQ(plan.offsets[1], plan.offsets[2]);
  EXPECT_EQ(plan.bytes, 384u);
}

TEST(ArenaPlan, RefusesToOverwriteABlockThatLivesOnOrDiffersInSize) {
  std::vector<BlockUse> blocks{{256, 0, 2, std::nullopt},   // still read at step 2
                               {256, 1, 3, 0},              // made at step 1: may not take its place
                               {128, 2, 3, std::nullopt},
                               {64, 3, 4, 2},               // another size
                               {256, 4, kOutlivesRun, 1}};  // a result: never in the arena
  const ArenaPlan plan = plan_arena(blocks);
  EXPECT_EQ(plan.in_place, 0u);
  EXPECT_NE(plan.offsets[0], plan.offsets[1]);
  EXPECT_FALSE(plan.offsets[4].has_value());
}

}  // namespace
}  // namespace cpuinfer::engine
