// `cpuinfer backends`: every backend with its version and what it loads, or why it is unavailable.
#include <fmt/format.h>

#include "backends/registry.h"
#include "cli/commands.h"
#include "core/error.h"

namespace cpuinfer {

void add_backends_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("backends", "List the inference backends, their versions and model formats");
  cmd->callback([&exit_code] {
    fmt::print("{:<16} {:<10} {:<17} {}\n", "backend", "version", "loads", "description / workloads");
    for (const auto& entry : known_backends()) {
      try {
        auto backend = make_backend(entry.name, BackendOptions{});
        fmt::print("{:<16} {:<10} {:<17} {}\n{:<45} runs: {}\n", entry.name, backend->version(), backend->format(),
                   entry.description, "", entry.supports);
      } catch (const std::exception& e) {
        fmt::print("{:<16} {:<10} {:<17} unavailable: {}\n", entry.name, "-", "-", first_line(e.what()));
      }
    }
    exit_code = 0;
  });
}

}  // namespace cpuinfer
