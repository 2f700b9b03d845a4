// What every result file of a command records about its run: cpuinfer's version, the start time,
// the command line, the machine and the versions of the run's libraries.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/machine.h"

namespace cpuinfer {

// `backends`: the run's, whose library versions the header records.
nlohmann::ordered_json run_header(const std::string& command_line, const MachineInfo& machine,
                                  const std::vector<std::string>& backends);

// The current UTC time in a fmt chrono format, e.g. "{:%Y%m%d-%H%M%S}" for file names.
std::string utc_timestamp(const char* format);

}  // namespace cpuinfer
