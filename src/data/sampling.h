// Seeded, class-balanced subsets of labelled data sets (images or texts alike).
#pragma once

#include <cstdint>
#include <vector>

namespace cpuinfer {

// Indices of a deterministic subset of `count` samples (all if count is 0 or too large), spread
// over the classes: each class's samples are shuffled with `seed`, then classes are taken
// round-robin, so every prefix of the subset covers the classes evenly.
std::vector<std::size_t> spread_subset(const std::vector<int>& labels, std::size_t count, std::uint64_t seed);

}  // namespace cpuinfer
