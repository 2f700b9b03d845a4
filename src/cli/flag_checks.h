// Checks of numeric flags with messages a person reads at once. CLI11's own NonNegativeNumber
// prints a range up to the largest double (300 digits), and an unsigned option takes "-1" and wraps
// it (`--seed -1` became 18446744073709551615).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <string>

namespace cpuinfer {

// A whole number, 0 or more.
inline CLI::Validator non_negative_integer() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        char* end = nullptr;
        const long long v = std::strtoll(value.c_str(), &end, 10);
        if (value.empty() || end == value.c_str() || *end != '\0') return "must be a whole number, got '" + value + "'";
        if (v < 0) return "must be 0 or more, got " + value;
        return "";
      },
      "INTEGER >= 0");
}

}  // namespace cpuinfer
