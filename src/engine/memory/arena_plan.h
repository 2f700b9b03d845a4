// Where the storage blocks of one run live in one arena, from their lifetimes: blocks alive at the
// same step never overlap, and a block allowed to overwrite a block that dies at the step that makes
// it (an element-wise op's output over its input) takes that block's place.
//
// Placement is greedy by size, as in TensorFlow Lite's arena planner: blocks (or chains of blocks
// sharing one place) from the largest down, each at the lowest offset where it fits between the
// blocks already placed whose lifetimes overlap its own.
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
  std::optional<std::size_t> overwrite;  // an earlier block whose place it may take, if that one dies at `first`
};

struct ArenaPlan {
  std::vector<std::optional<std::size_t>> offsets;  // per block; none for blocks that outlive the run
  std::size_t bytes = 0;                            // the arena's size
  std::vector<bool> over_input;                     // per block: placed over the block it overwrites
  std::size_t in_place = 0;                         // how many are
};

// Offsets are multiples of `alignment` (a power of two).
ArenaPlan plan_arena(const std::vector<BlockUse>& blocks, std::size_t alignment = 64);

}  // namespace cpuinfer::engine
