// `cpuinfer backends`: every backend with its version and what it loads, or why it is unavailable.
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "cli/commands.h"
#include "core/error.h"

namespace cpuinfer {

void add_backends_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("backends", "List the inference backends, their versions and model formats");
  cmd->callback([&exit_code] {
    struct Line {
      std::string name, version, format, description, runs;  // runs: empty for an unavailable backend
    };
    std::vector<Line> lines;
    for (const auto& entry : known_backends()) {
      try {
        auto backend = make_backend(entry.name, BackendOptions{});
        lines.push_back({entry.name, backend->version(), backend->format(), entry.description, entry.supports});
      } catch (const std::exception& e) {
        lines.push_back({entry.name, "-", "-", "unavailable: " + first_line(e.what()), ""});
      }
    }
    // Each column as wide as its longest entry (native's version names its ISA path and oneDNN).
    std::size_t name_width = 7, version_width = 7, format_width = 5;
    for (const Line& l : lines) {
      name_width = std::max(name_width, l.name.size());
      version_width = std::max(version_width, l.version.size());
      format_width = std::max(format_width, l.format.size());
    }
    const std::size_t indent = name_width + version_width + format_width + 3;
    fmt::print("{:<{}} {:<{}} {:<{}} {}\n", "backend", name_width, "version", version_width, "loads", format_width,
               "description / workloads");
    for (const Line& l : lines) {
      fmt::print("{:<{}} {:<{}} {:<{}} {}\n", l.name, name_width, l.version, version_width, l.format, format_width,
                 l.description);
      if (!l.runs.empty()) fmt::print("{:<{}}runs: {}\n", "", indent, l.runs);
    }
    exit_code = 0;
  });
}

}  // namespace cpuinfer
