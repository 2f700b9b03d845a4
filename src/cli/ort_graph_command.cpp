// `cpuinfer ort-graph` (hidden from --help): the fused node types of ONNX Runtime's optimized graph
// of a model, as one line of JSON. The ORT backend runs it as a child process
// (backends/ort/ort_optimized_graph.h), so that the session it takes never counts toward a
// benchmark's load time or peak RSS.
#include <fmt/format.h>

#include <map>

#include "backends/ort/ort_optimized_graph.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"

namespace cpuinfer {

namespace {

struct OrtGraphArgs {
  std::string model;
  OrtLevel level = OrtLevel::all;
  int threads = 1;
};

}  // namespace

void add_ort_graph_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<OrtGraphArgs>();
  auto* cmd = app.add_subcommand(kOrtGraphCommand, "Count the fused nodes of ONNX Runtime's optimized graph of a model");
  cmd->group("");  // internal: the ORT backend's child process
  const std::map<std::string, OrtLevel> levels = {{ort_level_name(OrtLevel::all), OrtLevel::all},
                                                  {ort_level_name(OrtLevel::basic), OrtLevel::basic}};
  cmd->add_option("--model", args->model, "ONNX model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--level", args->level, "Graph optimization level")->required()->transform(CLI::CheckedTransformer(levels));
  cmd->add_option("--threads", args->threads, "Intra-op threads")->check(whole_number(1, 1024))->capture_default_str();
  cmd->callback([args, &exit_code] {
    fmt::print("{}\n", count_ort_optimized_graph(args->model, args->level, args->threads).dump());
    exit_code = 0;
  });
}

}  // namespace cpuinfer
