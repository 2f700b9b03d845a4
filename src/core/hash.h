// FNV-1a, 64 bits: stable across runs and builds, for cache keys and file names (not for security).
#pragma once

#include <cstddef>
#include <cstdint>

namespace cpuinfer {

struct Hash {
  std::uint64_t h = 1469598103934665603ull;
  void add(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  template <typename T> void add(const T& v) { add(&v, sizeof v); }
};

}  // namespace cpuinfer
