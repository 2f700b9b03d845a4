// The human-readable summary of a sweep's rows, printed to the console at the end.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cpuinfer {

std::string format_result_table(const std::vector<nlohmann::ordered_json>& rows);

}  // namespace cpuinfer
