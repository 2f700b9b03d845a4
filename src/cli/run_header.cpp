// The run header of result files.
#include "cli/run_header.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <ctime>

#include "backends/registry.h"

namespace cpuinfer {

std::string utc_timestamp(const char* format) {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  return fmt::format(fmt::runtime(format), fmt::gmtime(now));
}

nlohmann::ordered_json run_header(const std::string& command_line, const MachineInfo& m,
                                  const std::vector<std::string>& backends) {
  nlohmann::ordered_json libraries;
  for (const auto& name : backends) libraries[name] = make_backend(name, BackendOptions{})->version();
  nlohmann::ordered_json header;
  header["cpuinfer"] = CPUINFER_VERSION;
  header["started_utc"] = utc_timestamp("{:%Y-%m-%dT%H:%M:%SZ}");
  header["command"] = command_line;
  header["machine"] = {{"cpu", m.cpu_model},           {"isa", m.isa},         {"logical_cores", m.logical_cores},
                       {"usable_cores", m.usable_cores}, {"memory_gib", static_cast<double>(m.memory_bytes) / (1ull << 30)},
                       {"os", m.os},                   {"compiler", m.compiler}};
  header["libraries"] = libraries;
  return header;
}

}  // namespace cpuinfer
