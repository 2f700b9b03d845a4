// The `cpuinfer` subcommands. Each registers its options on the app and returns the exit code
// through the callback it sets.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace cpuinfer {

// command_line is recorded with the results; argv (argv[0] the program's path) runs the program
// again, as one backend's process.
void add_bench_command(CLI::App& app, int& exit_code, const std::string& command_line,
                       const std::vector<std::string>& argv);
void add_backends_command(CLI::App& app, int& exit_code);
void add_report_command(CLI::App& app, int& exit_code);
void add_profile_command(CLI::App& app, int& exit_code);
void add_zoo_command(CLI::App& app, int& exit_code, const std::string& command_line);
void add_ort_graph_command(CLI::App& app, int& exit_code);
void add_quantize_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);
void add_serve_command(CLI::App& app, int& exit_code);
void add_loadgen_command(CLI::App& app, int& exit_code, const std::string& command_line);

}  // namespace cpuinfer
