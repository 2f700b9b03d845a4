// `cpuinfer report`: one HTML page (or Markdown) from one or more result files.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "report/report.h"

namespace cpuinfer {

void add_report_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::vector<std::string> results;
    std::string out;
    std::string format = "html";
    ReportOptions options;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("report", "Charts, tables and a recommendation from `cpuinfer bench` results");
  cmd->add_option("results", args->results, "Results JSON files (several are compared side by side)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--out", args->out, "Output file (default: next to the first results file)");
  cmd->add_option("--format", args->format, "html (one offline page with charts) or md (Markdown tables)")
      ->check(CLI::IsMember({"html", "md"}))
      ->capture_default_str();
  cmd->add_option("--threshold", args->options.agreement_threshold,
                  "Top-1 agreement with the reference a backend needs to be recommended")
      ->check(number_in(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--baseline", args->options.baseline,
                  "Backend the speed-ups are measured against (default: libtorch where the run has it, else the "
                  "run's reference backend)");
  cmd->add_option("--max-rel-diff", args->options.max_rel_diff,
                  "Without top-1 (not a classifier): max |out - ref| / max |ref| a backend may have to be recommended")
      ->check(number_in(0))
      ->capture_default_str();
  cmd->callback([args, &exit_code] {
    const auto format = args->format == "md" ? ReportFormat::markdown : ReportFormat::html;
    std::filesystem::path out = args->out;
    if (out.empty()) out = std::filesystem::path(args->results.front()).replace_extension(args->format);
    write_report({args->results.begin(), args->results.end()}, args->options, format, out);
    fmt::print("report: {}\n", out.string());
    exit_code = 0;
  });
}

}  // namespace cpuinfer
