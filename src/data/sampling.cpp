// Class-balanced seeded subsets.
#include "data/sampling.h"

#include <map>
#include <random>

namespace cpuinfer {

std::vector<std::size_t> spread_subset(const std::vector<int>& labels, std::size_t count, std::uint64_t seed) {
  std::map<int, std::vector<std::size_t>> by_class;
  for (std::size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);
  std::mt19937_64 rng(seed);
  for (auto& [label, list] : by_class) {
    // Fisher-Yates with explicit modulo: the same order on every standard library.
    for (std::size_t i = list.size(); i > 1; --i) std::swap(list[i - 1], list[rng() % i]);
  }
  if (count == 0 || count > labels.size()) count = labels.size();
  std::vector<std::size_t> subset;
  subset.reserve(count);
  for (std::size_t round = 0; subset.size() < count; ++round) {
    for (auto& [label, list] : by_class) {
      if (round < list.size() && subset.size() < count) subset.push_back(list[round]);
    }
  }
  return subset;
}

}  // namespace cpuinfer
