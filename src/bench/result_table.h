// The human-readable summary of a sweep's rows, printed to the console at the end: one line per
// (backend, batch size, padding) with the speed-up over the reference backend. Rows of several
// repeats (`bench --repeat`) are summed up as medians, the speed-up with its min-max across repeats.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cpuinfer {

std::string format_result_table(const std::vector<nlohmann::ordered_json>& rows);

}  // namespace cpuinfer
