// plan_arena: greedy-by-size placement over the blocks' lifetimes.
#include "engine/memory/arena_plan.h"

#include <algorithm>
#include <limits>

namespace cpuinfer::engine {

namespace {
bool overlap(const BlockUse& a, const BlockUse& b) { return a.first <= b.last && b.first <= a.last; }
}  // namespace

ArenaPlan plan_arena(const std::vector<BlockUse>& blocks, std::size_t alignment) {
  ArenaPlan plan;
  plan.offsets.assign(blocks.size(), std::nullopt);
  std::vector<std::size_t> order, placed;  // placed: by offset
  for (std::size_t i = 0; i < blocks.size(); ++i)
    if (blocks[i].last != kOutlivesRun) order.push_back(i);
  auto size = [&](std::size_t i) { return (blocks[i].bytes + alignment - 1) / alignment * alignment; };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return size(a) > size(b); });
  for (std::size_t i : order) {
    std::size_t best = 0, best_gap = std::numeric_limits<std::size_t>::max(), end = 0;
    bool found = false;
    for (std::size_t j : placed) {
      if (!overlap(blocks[i], blocks[j])) continue;
      const std::size_t offset = *plan.offsets[j];
      if (offset >= end && offset - end >= size(i) && offset - end < best_gap) {
        best = end;
        best_gap = offset - end;
        found = true;
      }
      end = std::max(end, offset + size(j));
    }
    plan.offsets[i] = found ? best : end;
    plan.bytes = std::max(plan.bytes, *plan.offsets[i] + size(i));
    placed.insert(std::upper_bound(placed.begin(), placed.end(), i,
                                   [&](std::size_t a, std::size_t b) { return *plan.offsets[a] < *plan.offsets[b]; }),
                  i);
  }
  return plan;
}

}  // namespace cpuinfer::engine
