// cpuinfer: benchmark CPU inference runtimes on the study's workloads.
#include <fmt/format.h>

#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "engine/isa.h"
#include "engine/session.h"

int main(int argc, char** argv) {
  CLI::App app{"cpuinfer: fast, measurable CPU inference"};
  app.require_subcommand(1);
  app.set_version_flag("--version", fmt::format("cpuinfer {}\n{}", CPUINFER_VERSION, cpuinfer::engine::engine_version()));
  int exit_code = 0;
  std::string command_line = "cpuinfer";
  for (int i = 1; i < argc; ++i) command_line += std::string(" ") + argv[i];
  // /proc/self/exe: this very binary, wherever argv[0] points.
  std::vector<std::string> arguments = {"/proc/self/exe"};
  for (int i = 1; i < argc; ++i) arguments.emplace_back(argv[i]);
  cpuinfer::add_bench_command(app, exit_code, command_line, arguments);
  cpuinfer::add_backends_command(app, exit_code);
  cpuinfer::add_report_command(app, exit_code);
  cpuinfer::add_profile_command(app, exit_code);
  cpuinfer::add_zoo_command(app, exit_code, command_line);
  cpuinfer::add_quantize_command(app, exit_code);
  cpuinfer::add_run_command(app, exit_code);
  cpuinfer::add_serve_command(app, exit_code);
  cpuinfer::add_loadgen_command(app, exit_code, command_line);
  cpuinfer::add_ort_graph_command(app, exit_code);
  try {
    // CPUINFER_MAX_ISA caps oneDNN only before it generates code: fix the level first.
    cpuinfer::engine::engine_isa();
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cpuinfer::Error& e) {
    fmt::print(stderr, "cpuinfer: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "cpuinfer: internal error: {}\n", cpuinfer::first_line(e.what()));
    return 2;
  }
  return exit_code;
}
