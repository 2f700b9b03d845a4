// Where the storage blocks of one run live in one arena, from their lifetimes: blocks alive at the
// same step never overlap.
//
// Placement is greedy by size, as in TensorFlow Lite's arena planner: blocks from the largest down,
// each in the smallest gap that holds it between the blocks already placed whose lifetimes overlap
// its own, else after them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace cpuinfer::engine {

inline constexpr std::size_t kOutlivesRun = std::numeric_limits<std::size_t>::max();

struct BlockUse {
  std::size_t bytes = 0;
  std::size_t first = 0;              // the step that takes the block
  std::size_t last = kOutlivesRun;    // the step after which it is released; kOutlivesRun: kept by the caller
};

struct ArenaPlan {
  std::vector<std::optional<std::size_t>> offsets;  // per block; none for blocks that outlive the run
  std::size_t bytes = 0;                            // the arena's size
};

// Offsets are multiples of `alignment` (a power of two).
ArenaPlan plan_arena(const std::vector<BlockUse>& blocks, std::size_t alignment = 64);

}  // namespace cpuinfer::engine
