// Checks of numeric flags with messages a person reads at once. CLI11's own checks print a range
// up to the largest double (300 digits) or call "abc" out of range, and an unsigned option takes
// "-1" and wraps it (`--seed -1` became 18446744073709551615).
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>

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

// A number in [min, max] (no upper limit by default); `unit` ("seconds") names what it counts in the messages.
inline CLI::Validator number_in(double min, double max = HUGE_VAL, const std::string& unit = "") {
  const auto text = [](double v) { return fmt::format("{:g}", v); };
  const std::string units = unit.empty() ? "" : " " + unit;
  return CLI::Validator(
      [=](std::string& value) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (value.empty() || end == value.c_str() || *end != '\0' || !std::isfinite(v))
          return "must be a number" + (unit.empty() ? "" : " of " + unit) + ", got '" + value + "'";
        if (v < min) return "must be " + text(min) + " or more" + units + ", got " + value;
        if (v > max) return "must be at most " + text(max) + units + ", got " + value;
        return "";
      },
      std::isinf(max) ? "NUMBER >= " + text(min) : "NUMBER " + text(min) + ".." + text(max));
}

// A number of seconds, 0 or more (at most 10^7: a deadline in nanoseconds must not overflow).
inline CLI::Validator non_negative_seconds() { return number_in(0, 1e7, "seconds"); }

}  // namespace cpuinfer
