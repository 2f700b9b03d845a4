// Numbers for people at any scale: 123, 12.3, 1.23, 0.0123 (not 0.0) — latencies from 50 µs to
// seconds in one column.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace cpuinfer {

// `digits` significant digits; no decimals at or above 10^digits.
inline std::string significant_digits(double v, int digits = 3) {
  if (v == 0 || !std::isfinite(v)) return fmt::format("{}", v);
  const int decimals = std::max(0, digits - 1 - static_cast<int>(std::floor(std::log10(std::fabs(v)))));
  return fmt::format("{:.{}f}", v, decimals);
}

}  // namespace cpuinfer
