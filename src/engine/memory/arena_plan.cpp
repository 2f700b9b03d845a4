// plan_arena: chains of in-place blocks first, then greedy-by-size placement.
#include "engine/memory/arena_plan.h"

#include <algorithm>
#include <numeric>

namespace cpuinfer::engine {

namespace {

// One place in the arena: a block, or a chain of blocks each overwriting the one before.
struct Place {
  std::size_t bytes = 0, first = 0, last = 0;
  std::optional<std::size_t> offset;
};

bool overlap(const Place& a, const Place& b) { return a.first <= b.last && b.first <= a.last; }

}  // namespace

ArenaPlan plan_arena(const std::vector<BlockUse>& blocks, std::size_t alignment) {
  const std::size_t n = blocks.size();
  ArenaPlan plan;
  plan.offsets.assign(n, std::nullopt);
  plan.over_input.assign(n, false);

  // Each block's place: its own, or the place of the block it overwrites. A block is overwritten
  // at most once, by a block of its size made after it, at the step after which it is released.
  std::vector<std::size_t> place_of(n);
  std::vector<bool> overwritten(n, false);
  std::vector<Place> places;
  for (std::size_t i = 0; i < n; ++i) {
    const BlockUse& b = blocks[i];
    if (b.last == kOutlivesRun) continue;
    if (b.overwrite && *b.overwrite < i) {
      const std::size_t o = *b.overwrite;
      const BlockUse& old = blocks[o];
      if (!overwritten[o] && old.first < b.first && old.last == b.first && old.bytes == b.bytes) {
        overwritten[o] = true;
        place_of[i] = place_of[o];
        Place& p = places[place_of[i]];
        p.last = std::max(p.last, b.last);
        plan.over_input[i] = true;
        ++plan.in_place;
        continue;
      }
    }
    place_of[i] = places.size();
    places.push_back({(b.bytes + alignment - 1) / alignment * alignment, b.first, b.last, std::nullopt});
  }

  std::vector<std::size_t> order(places.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return places[a].bytes > places[b].bytes; });
  std::vector<std::size_t> placed;  // by offset
  for (std::size_t k : order) {
    Place& p = places[k];
    // The smallest gap between the overlapping places (by offset) that holds p, else the end.
    std::size_t best = 0, best_gap = std::numeric_limits<std::size_t>::max(), end = 0;
    bool found = false;
    for (std::size_t q : placed) {
      const Place& other = places[q];
      if (!overlap(p, other)) continue;
      if (*other.offset >= end) {
        const std::size_t gap = *other.offset - end;
        if (gap >= p.bytes && gap < best_gap) {
          best = end;
          best_gap = gap;
          found = true;
        }
      }
      end = std::max(end, *other.offset + other.bytes);
    }
    p.offset = found ? best : end;
    plan.bytes = std::max(plan.bytes, *p.offset + p.bytes);
    placed.insert(std::upper_bound(placed.begin(), placed.end(), k,
                                   [&](std::size_t a, std::size_t b) { return *places[a].offset < *places[b].offset; }),
                  k);
  }
  for (std::size_t i = 0; i < n; ++i)
    if (blocks[i].last != kOutlivesRun) plan.offsets[i] = places[place_of[i]].offset;
  return plan;
}

}  // namespace cpuinfer::engine
