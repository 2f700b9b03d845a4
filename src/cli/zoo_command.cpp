// `cpuinfer zoo`: every model of a folder through the benchmark sweep on `native` and ONNX
// Runtime at a few batch sizes; one summary row per model (bench/zoo.h) and every sweep row.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/registry.h"
#include "bench/onnx_model_workload.h"
#include "bench/progress.h"
#include "bench/result_files.h"
#include "bench/sweep.h"
#include "bench/workload.h"
#include "bench/zoo.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/run_header.h"
#include "core/error.h"
#include "core/machine.h"
#include "core/paths.h"

namespace fs = std::filesystem;

namespace cpuinfer {

namespace {

constexpr const char* kReference = "ort";

struct ZooArgs {
  std::string models;
  std::vector<std::string> only;
  std::vector<int> batch_sizes = {1, 4};
  std::size_t samples = 8;
  std::int64_t length = 16;
  int threads = 0;
  int warmup = 1;
  std::uint64_t seed = 0;
  double max_rel_diff = 1e-4;
  std::string out = "results";
  bool quiet = false;
  std::string command_line;
};

int run_zoo(ZooArgs& a) {
  const MachineInfo machine = read_machine_info();
  if (a.threads <= 0) a.threads = machine.usable_cores;
  const fs::path folder = a.models.empty() ? default_cache_dir() / "models" / "zoo" : fs::path(a.models);
  std::vector<ZooModel> models = read_zoo(folder);
  if (!a.only.empty()) {
    std::vector<ZooModel> chosen;
    for (const std::string& name : a.only) {
      auto it = std::find_if(models.begin(), models.end(), [&](const ZooModel& m) { return m.name == name; });
      if (it == models.end()) fail("--only {}: no such model in {}", name, folder.string());
      chosen.push_back(*it);
    }
    models = std::move(chosen);
  }
  const int largest = *std::max_element(a.batch_sizes.begin(), a.batch_sizes.end());
  if (a.samples < static_cast<std::size_t>(largest))
    fail("--samples {} is below the largest batch size {}", a.samples, largest);

  nlohmann::ordered_json header = run_header(a.command_line, machine, {kReference, "native"});
  header["zoo"] = {{"folder", folder.string()},     {"backends", {kReference, "native"}}, {"batch_sizes", a.batch_sizes},
                   {"samples", a.samples},          {"sequence_length", a.length},        {"threads", a.threads},
                   {"warmup_batches", a.warmup},    {"max_rel_diff", a.max_rel_diff},     {"seed", a.seed},
                   {"agreement", "top-1 equal on every sample (classifiers) and max |native - ort| <= max_rel_diff x max |ort|"},
                   {"time", "median latency at batch 1, each backend run() call"}};
  const std::string stem = fmt::format("zoo-{}", utc_timestamp("{:%Y%m%d-%H%M%S}"));
  ResultFiles summary(a.out, stem, header, zoo_columns());
  ResultFiles runs(a.out, stem + "-runs", header);
  Progress progress(!a.quiet);
  // Tiny models, one pass each, every backend in this process.
  SweepOptions sweep;
  sweep.backends = {kReference, "native"};
  sweep.batch_sizes = a.batch_sizes;
  sweep.threads = a.threads;
  sweep.warmup = a.warmup;
  sweep.reference = kReference;
  if (!a.quiet)
    fmt::print(stderr, "zoo: {} models from {}, batch sizes {}, {} samples, {} threads on {}\n", models.size(), folder.string(),
               fmt::join(a.batch_sizes, ","), a.samples, a.threads, machine.cpu_model);
  for (const ZooModel& model : models) {
    std::vector<nlohmann::ordered_json> rows;
    if (model.export_error.empty()) {
      try {
        ModelWorkloadOptions options;
        options.model = model.file;
        options.shapes = zoo_shapes(model, a.length);
        options.samples = a.samples;
        options.seed = a.seed;
        options.classifier = model.kind == "classifier";
        const auto workload = make_onnx_model_workload(options);
        const std::size_t first = runs.rows().size();
        run_sweep(*workload, sweep, runs, progress);
        rows.assign(runs.rows().begin() + static_cast<std::ptrdiff_t>(first), runs.rows().end());
      } catch (const Error& e) {  // the model's inputs could not be planned
        nlohmann::ordered_json failed;
        failed["name"] = "native";
        failed["workload"] = model.name;
        failed["status"] = fmt::format("failed: {}", e.what());
        runs.append(failed);
        rows.push_back(std::move(failed));
      }
    }
    nlohmann::ordered_json row = zoo_row(model, rows, kReference, a.max_rel_diff);
    if (!a.quiet) fmt::print(stderr, "{}: {}\n", model.name, row.value("status", ""));
    summary.append(std::move(row));
  }
  summary.finish();
  runs.finish();

  fmt::print("\nmodel zoo on {} ({} threads, ISA {}): native against {}, batch 1 times\n", machine.cpu_model, a.threads,
             fmt::join(machine.isa, " "), kReference);
  fmt::print("{}", format_zoo_table(summary.rows()));
  fmt::print("results: {}\n         {}\n", summary.csv_path().string(), runs.csv_path().string());
  std::size_t bad = 0;
  for (const auto& row : summary.rows()) bad += row.value("status", "") != "ok";
  if (bad) {
    fmt::print(stderr, "cpuinfer: error: {} of {} models do not run or do not agree on native\n", bad, summary.rows().size());
    return 1;
  }
  return 0;
}

}  // namespace

void add_zoo_command(CLI::App& app, int& exit_code, const std::string& command_line) {
  auto args = std::make_shared<ZooArgs>();
  auto* cmd = app.add_subcommand("zoo", "Run every model of a folder on native and ONNX Runtime: time ratio and agreement");
  cmd->add_option("--models", args->models, "Folder of .onnx models, with tools/export_zoo.py's zoo.json if present "
                  "(default: <cache>/models/zoo)");
  cmd->add_option("--only", args->only, "Comma-separated model names (file stems) to run")->delimiter(',');
  cmd->add_option("--batch-sizes", args->batch_sizes, "Comma-separated batch sizes")
      ->delimiter(',')
      ->check(whole_number(1, 4096))
      ->capture_default_str();
  cmd->add_option("--samples", args->samples, "Generated samples per model (timed batches at batch 1)")
      ->check(whole_number(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--sequence-length", args->length, "Size of every symbolic dimension but the batch (text models)")
      ->check(whole_number(1, 1 << 16))
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "Intra-op threads per backend; 0 = all usable cores")
      ->check(whole_number(0, 1024))
      ->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Untimed warm-up batches per (backend, batch size)")
      ->check(whole_number(0, 1000))
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the generated inputs")->capture_default_str();
  cmd->add_option("--max-rel-diff", args->max_rel_diff, "Agreement limit: max |native - ort| / max |ort|")
      ->check(number_in(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--out", args->out, "Folder for the CSV and JSON results")->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "No progress output");
  cmd->callback([args, &exit_code, command_line] {
    args->command_line = command_line;
    exit_code = run_zoo(*args);
  });
}

}  // namespace cpuinfer
