// Checks of numeric flags with messages a person reads at once. CLI11's own checks print a range
// up to the largest double (300 digits) or call "abc" out of range, and an unsigned option takes
// "-1" and wraps it (`--seed -1` became 18446744073709551615).
#pragma once

#include <CLI/CLI.hpp>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <string>

namespace cpuinfer {

// A whole number in [min, max].
inline CLI::Validator whole_number(long long min, long long max = LLONG_MAX) {
  const std::string description = max == LLONG_MAX ? "INTEGER >= " + std::to_string(min)
                                                   : "INTEGER " + std::to_string(min) + ".." + std::to_string(max);
  return CLI::Validator(
      [min, max](std::string& value) -> std::string {
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(value.c_str(), &end, 10);
        if (value.empty() || end == value.c_str() || *end != '\0' || errno == ERANGE)
          return "must be a whole number, got '" + value + "'";
        if (v < min) return (min == 0 ? "must be 0 or more" : "must be at least " + std::to_string(min)) + ", got " + value;
        if (v > max) return "must be at most " + std::to_string(max) + ", got " + value;
        return "";
      },
      description);
}

inline CLI::Validator non_negative_integer() { return whole_number(0); }

// A number of seconds, 0 or more.
inline CLI::Validator non_negative_seconds() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (value.empty() || end == value.c_str() || *end != '\0' || !std::isfinite(v))
          return "must be a number of seconds, got '" + value + "'";
        if (v < 0) return "must be 0 or more seconds, got " + value;
        if (v > 1e7) return "must be at most 10000000 seconds (116 days), got " + value;
        return "";
      },
      "SECONDS >= 0");
}

}  // namespace cpuinfer
