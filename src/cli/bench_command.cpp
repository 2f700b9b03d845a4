// `cpuinfer bench`: runs a sweep of backends x batch sizes on a workload and writes the results.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <optional>

#include "backends/registry.h"
#include "bench/backend_process.h"
#include "bench/onnx_model_workload.h"
#include "bench/progress.h"
#include "bench/result_files.h"
#include "bench/result_table.h"
#include "bench/quantized_model.h"
#include "bench/sweep.h"
#include "bench/tolerance.h"
#include "bench/workload.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/run_header.h"
#include "core/error.h"
#include "core/machine.h"
#include "core/interrupt.h"
#include "core/paths.h"
#include "report/report.h"

namespace fs = std::filesystem;

namespace cpuinfer {

namespace {

struct BenchArgs {
  std::string workload = "resnet101";
  std::vector<std::string> backends = {"ort", "ort-basic", "libtorch", "libtorch-frozen"};
  std::vector<int> batch_sizes = {1, 4, 8};
  std::size_t samples = 0;
  std::string data;
  std::string weights;
  int threads = 0;
  int warmup = 3;
  std::uint64_t seed = 0;
  std::uint64_t weights_seed = 0;
  std::string out = "results";
  std::string reference;
  std::string cache;
  bool quiet = false;
  std::vector<std::string> padding;
  std::string text_lengths;
  std::size_t max_length = 0;
  std::string command_line;
  // --model: any ONNX model with generated or given inputs
  std::string model;
  std::vector<std::string> shapes, inputs;
  std::string labels;
  std::vector<std::string> calibration;  // the int8 model's
  double min_time = 2.0;
  int repeat = 1;
  double timeout = 600;
  std::string save_outputs;
  std::optional<double> tolerance;
  // The program's own arguments, to run it again as a backend's process (bench/sweep.h).
  std::vector<std::string> argv;
  bool batch_sizes_given = false;
  WorkerJob worker;  // set: this process is one backend's part of a sweep
};

// The workload the flags describe. A backend's process builds it again from the same flags.
std::unique_ptr<Workload> build_workload(const BenchArgs& a, Progress& progress) {
  if (!a.model.empty()) {
    ModelWorkloadOptions mo = model_options_from_flags(a.model, a.shapes, a.inputs);
    mo.samples = a.samples;  // 0: every sample of the --input files, or 16 generated ones
    if (!a.labels.empty()) mo.labels = a.labels;
    mo.seed = a.seed;
    return make_onnx_model_workload(mo);
  }
  WorkloadOptions wo;
  wo.name = a.workload;
  wo.cache = default_cache_dir();
  if (!a.weights.empty()) wo.weights = a.weights;
  if (!a.data.empty()) wo.data = a.data;
  wo.samples = a.samples;
  wo.seed = a.seed;
  wo.weights_seed = a.weights_seed;
  wo.check_export = a.worker.backend.empty();  // backend processes reuse the export their sweep checked
  wo.threads = a.threads;
  wo.padding = a.padding;
  wo.text_lengths = a.text_lengths;
  wo.max_length = a.max_length;
  return make_workload(wo, progress);
}

// The sweep the flags describe, on `workload`. Without --batch-sizes, a model without a batch
// dimension runs at its own batch (check_sweep refuses any other size).
SweepOptions sweep_options(const BenchArgs& a, const Workload& workload) {
  SweepOptions sweep;
  sweep.backends = a.backends;
  sweep.batch_sizes = a.batch_sizes;
  sweep.threads = a.threads;
  sweep.warmup = a.warmup;
  sweep.reference = a.reference;
  sweep.calibration = a.calibration;
  if (!a.batch_sizes_given && workload.max_batch_size() == 1)
    sweep.batch_sizes = {static_cast<int>(workload.rows_per_sample())};
  if (sweep.reference.empty()) {
    const bool has_libtorch = std::find(a.backends.begin(), a.backends.end(), "libtorch") != a.backends.end();
    sweep.reference = has_libtorch ? "libtorch" : a.backends.front();
  }
  sweep.min_time_s = a.min_time;
  sweep.repeats = a.repeat;
  sweep.timeout_s = a.timeout;
  sweep.save_outputs = a.save_outputs;
  sweep.tolerance = a.tolerance;
  return sweep;
}

// One backend's rows, in the process the sweep started for it.
int run_bench_worker(BenchArgs& a) {
  open_parent_channel();
  if (a.threads <= 0) a.threads = read_machine_info().usable_cores;
  Progress quiet(false), progress(!a.quiet);
  const std::unique_ptr<Workload> workload = build_workload(a, quiet);
  run_sweep_worker(*workload, sweep_options(a, *workload), a.worker, progress);
  return 0;
}

int run_bench(BenchArgs& a) {
  const MachineInfo machine = read_machine_info();
  if (a.threads <= 0) a.threads = machine.usable_cores;
  for (const auto& name : a.backends) make_backend(name, BackendOptions{});  // unknown names fail here
  const bool int8_rows = std::ranges::any_of(a.backends, [](const std::string& b) {
    return make_backend(b, BackendOptions{})->format() == kInt8Format;
  });
  if (!a.calibration.empty() && !int8_rows) fail("--calibration is for the int8 model of native-int8 and ort-int8, and neither is in --backends");
  if (!a.reference.empty() && std::find(a.backends.begin(), a.backends.end(), a.reference) == a.backends.end())
    fail("--reference {} is not one of --backends {}", a.reference, fmt::join(a.backends, ","));
  if (!a.save_outputs.empty()) check_writable_folder(a.save_outputs, "--save-outputs");
  check_writable_folder(a.out, "--out");
  if (a.threads > machine.usable_cores && !a.quiet)
    fmt::print(stderr, "warning: --threads {} is more than the {} usable cores: threads will share cores, and timings suffer\n",
               a.threads, machine.usable_cores);

  Progress progress(!a.quiet);
  const std::unique_ptr<Workload> workload = build_workload(a, progress);
  SweepOptions sweep = sweep_options(a, *workload);
  sweep.worker_command = a.argv;
  const ExportedModel& model = workload->model();
  if (model.random_weights && !a.quiet)
    fmt::print(stderr, "note: {} uses seeded random weights (--weights-seed {}): accuracy is meaningless, agreement is not\n",
               workload->name(), a.weights_seed);

  check_sweep(*workload, sweep);  // before any result file exists
  if (!a.calibration.empty()) calibration_batches(*workload, a.calibration);  // bad data: an error now, not a failed row later
  nlohmann::ordered_json header = run_header(a.command_line, machine, sweep_order(sweep));
  header["workload"] = workload->description();
  header["workload"]["name"] = workload->name();
  header["workload"]["model"] = model.folder.string();
  header["workload"]["weights"] = model.weights;
  header["workload"]["random_weights"] = model.random_weights;
  header["protocol"] = {{"backends", sweep_order(sweep)},
                        {"batch_sizes", sweep.batch_sizes},
                        {"threads", a.threads},
                        {"warmup_batches", a.warmup},
                        {"seed", a.seed},
                        {"weights_seed", model.random_weights ? nlohmann::ordered_json(a.weights_seed) : nlohmann::ordered_json()},
                        {"min_time_s", a.min_time},
                        {"repeats", a.repeat},
                        {"timeout_s", a.timeout},
                        {"isolation", "each backend in a process of its own"},
                        {"reference", sweep.reference},
                        {"tolerance", a.tolerance ? nlohmann::ordered_json(*a.tolerance)
                                                  : nlohmann::ordered_json(fmt::format("by precision: {} of max |reference|", default_tolerances_text()))},
                        {"int8_calibration", int8_rows ? (a.calibration.empty() ? nlohmann::ordered_json("the run's samples") : nlohmann::ordered_json(a.calibration))
                                                       : nlohmann::ordered_json()},
                        {"timed", "each backend run() call, steady_clock; batching and preprocessing untimed"},
                        {"last_incomplete_batch", "dropped"},
                        {"percentiles", "per-batch latency, linear interpolation; p50, p90, p99 left empty below 2, 10, 100 timed batches"}};
  ResultFiles results(a.out, fmt::format("{}-{}", workload->name(), utc_timestamp("{:%Y%m%d-%H%M%S}")), header);
  if (!a.quiet)
    fmt::print(stderr, "{}: {} samples, backends {}, batch sizes {}, {} threads on {} ({} usable cores)\n", workload->name(),
             workload->size(), fmt::join(sweep_order(sweep), ","), fmt::join(sweep.batch_sizes, ","), a.threads,
             machine.cpu_model, machine.usable_cores);

  catch_interrupts();
  const SweepOutcome outcome = run_sweep(*workload, sweep, results, progress);
  if (outcome.interrupted_by != 0) {
    fmt::print(stderr, "interrupted: {} rows saved in {}\n", results.rows().size(), results.csv_path().string());
    return 128 + outcome.interrupted_by;
  }
  results.finish();
  for (const std::string& failure : outcome.process_failures) fmt::print(stderr, "cpuinfer: error: {}\n", failure);

  fmt::print("\n{} on {} ({} samples), weights: {}, threads: {}\n", workload->name(), workload->dataset(),
             workload->size(), model.weights, a.threads);
  fmt::print("{}", format_result_table(results.rows()));
  fmt::print("results: {}\n         {}\n", results.csv_path().string(), results.json_path().string());
  // The report is a view of the results, which are safely on disk already: a failure here is reported,
  // and the results stand.
  std::filesystem::path report = results.json_path();
  report.replace_extension(".html");
  try {
    write_report({results.json_path()}, ReportOptions{}, ReportFormat::html, report);
    fmt::print("report:  {}\n", report.string());
  } catch (const Error& e) {
    fmt::print(stderr, "cpuinfer: warning: report not written: {}\n", e.what());
  }

  // Failed rows, and rows whose outputs disagree with the reference beyond their tolerance, fail the run.
  for (const char* kind : {"failed", "disagrees"}) {
    std::size_t count = 0;
    std::string first;
    for (const auto& row : results.rows()) {
      const std::string status = row.value("status", "");
      if (status.rfind(kind, 0) == 0 && count++ == 0)
        first = fmt::format("{} batch {}: {}", row.value("name", ""), row.value("batch_size", 0), status);
    }
    if (count) {
      fmt::print(stderr, "cpuinfer: error: {} of {} rows {}; first: {}\n", count, results.rows().size(),
                 kind == std::string("failed") ? "failed" : "disagree with the reference", first);
      return 1;
    }
  }
  return outcome.process_failures.empty() ? 0 : 1;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code, const std::string& command_line,
                       const std::vector<std::string>& argv) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Benchmark backends on a workload at several batch sizes");
  cmd->add_option("--workload", args->workload, "Workload to run")
      ->check(CLI::IsMember(workload_names()))
      ->capture_default_str();
  cmd->add_option("--backends", args->backends, "Comma-separated backends (see `cpuinfer backends`)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--batch-sizes", args->batch_sizes, "Comma-separated batch sizes (default for a model with a fixed batch: its own)")
      ->delimiter(',')
      ->check(whole_number(1, 65536))
      ->capture_default_str();
  cmd->add_option("--samples", args->samples, "Samples to run (a seeded subset spread over classes when labelled); 0 = all "
                  "of the data set or of the --input files. With generated --model inputs, 0 means 16 generated samples")
      ->check(non_negative_integer())
      ->capture_default_str();
  cmd->add_option("--data", args->data,
                  "Data set: resnet101, a folder in the Imagenette layout (<root>/val/<wnid>/*.JPEG); bert, an IMDB "
                  "folder (aclImdb/test/{pos,neg}/*.txt), a CSV (review,sentiment) or a JSON list of {text,class}. "
                  "Default: the built-in set");
  cmd->add_option("--weights", args->weights, "Checkpoint file (e.g. resnet101-cd907fe2.pth); default: seeded random weights")
      ->check(CLI::ExistingFile);
  cmd->add_option("--threads", args->threads, "Intra-op threads per backend; 0 = all usable cores")
      ->check(whole_number(0, 1024))
      ->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Untimed warm-up batches per (backend, batch size)")
      ->check(non_negative_integer())
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed for the sample subset and generated inputs (random weights: --weights-seed)")
      ->check(non_negative_integer())
      ->capture_default_str();
  cmd->add_option("--weights-seed", args->weights_seed, "Seed of the random weights (without --weights); names their cache folder")
      ->check(non_negative_integer())
      ->capture_default_str();
  cmd->add_option("--calibration", args->calibration,
                  "native-int8, ort-int8: calibrate the int8 model on these .npy files, [name=]FILE.npy per input, samples "
                  "along the first dimension (default: the run's own samples)");
  cmd->add_option("--reference", args->reference, "Backend the others are compared with (default: libtorch, else the first)");
  cmd->add_option("--out", args->out, "Folder for the CSV and JSON results")->capture_default_str();
  cmd->add_option("--cache", args->cache, "Cache folder with models/, data/ and derived/ (int8 models, ORT graph counts of any model; default: $CPUINFER_CACHE or the repo's .cache)");
  cmd->add_option("--padding", args->padding, "bert: comma-separated padding strategies, each its own row: "
                  "longest (pad a batch to its longest text, the study's), max (to --max-length), bucket (sort by "
                  "length within windows of 8 batches first). Default: longest")
      ->delimiter(',')
      ->check(CLI::IsMember({"longest", "max", "bucket"}));
  cmd->add_option("--text-lengths", args->text_lengths, "bert: sentences (the texts as they are, default) or imdb "
                  "(concatenate sentences into texts with the length distribution of full IMDB reviews)")
      ->check(CLI::IsMember({"sentences", "imdb"}));
  cmd->add_option("--max-length", args->max_length, "bert: truncate texts to this many tokens incl. [CLS]/[SEP] "
                  "(default: the model's 512)")
      ->check(whole_number(2, 4096));
  auto* model = cmd->add_option("--model", args->model,
                                 "Any ONNX model instead of a workload: inputs generated from its declared types and "
                                 "shapes (floats in [-1,1), integers 0/1) or read with --input, outputs compared per "
                                 "sample (whole, for a fixed batch or an output without the batch dimension). Default "
                                 "backends: ort,native; samples: all of the --input files, else 16")
                    ->check(CLI::ExistingFile);
  cmd->add_option("--shape", args->shapes, "--model: an input's whole shape, input=1x3x224x224, or a symbolic dimension's size, sequence=128 "
                  "(repeatable; sizes at least 1). An input's whole shape also sets its symbolic dimensions, the batch included, "
                  "for the other inputs")
      ->needs(model);
  cmd->add_option("--input", args->inputs, "--model: an input's data, name=file.npy or name=FOLDER (repeatable). With the "
                  "batch dimension open, a file's first dimension counts samples, and a folder holds one sample per .npy file "
                  "(e.g. 1x3x224x224 or 3x224x224), in file-name order (zero-pad numbers: 001.npy). For a model with a fixed "
                  "batch, a file, or each file of a folder, is one whole input. Every --input gives the same number of samples")
      ->needs(model);
  cmd->add_option("--labels", args->labels, "--model: one class per sample of the --input files (.npy, int64 or int32): "
                  "rows get accuracy and top-1 agreement on output 0")
      ->needs(model);
  for (const char* workload_only :
       {"--workload", "--data", "--weights", "--weights-seed", "--padding", "--text-lengths", "--max-length"})
    model->excludes(cmd->get_option(workload_only));
  cmd->add_option("--min-time", args->min_time,
                  "Seconds of timed inference per row at least: passes over the samples repeat until then (0: one pass)")
      ->check(non_negative_seconds())
      ->capture_default_str();
  cmd->add_option("--repeat", args->repeat, "Run the whole sweep this many times (rows numbered by `repeat`; the "
                  "report shows each ratio's spread)")
      ->check(whole_number(1, 1000))
      ->capture_default_str();
  cmd->add_option("--timeout", args->timeout, "Seconds a backend's process may go without finishing a row before it is "
                  "stopped and its rows fail (0: no limit)")
      ->check(non_negative_seconds())
      ->capture_default_str();
  cmd->add_option("--save-outputs", args->save_outputs, "Write every backend's outputs of each sample (first pass) as .npy: "
                  "DIR/<backend>/batch<B>/sample<i>.output<k>.npy");
  cmd->add_option("--tolerance", args->tolerance, fmt::format("The max_rel_diff (max |out - ref| / max |ref|) every row may reach "
                  "and be ok; beyond it a row is `disagrees` and bench exits 1. Default by precision: {} (int8: an int8 model, "
                  "or native-int8, ort-int8, libtorch-int8)", default_tolerances_text()))
      ->check(number_in(0));
  cmd->add_flag("--quiet", args->quiet, "No progress output");
  // A backend's own process (bench/sweep.h): the sweep adds these to its own flags. Hidden.
  cmd->add_option("--worker-backend", args->worker.backend)->group("");
  cmd->add_option("--worker-int8-model", args->worker.int8_model)->group("");
  cmd->add_option("--worker-reference-file", args->worker.reference_file)->group("");
  cmd->add_option("--worker-reference-backend", args->worker.reference_backend)->group("");
  cmd->callback([args, &exit_code, command_line, argv, cmd] {
    args->command_line = command_line;
    args->argv = argv;
    args->batch_sizes_given = cmd->count("--batch-sizes") > 0;
    if (!args->model.empty() && cmd->count("--backends") == 0) args->backends = {"ort", "native"};
    // --cache is the process's cache (core/paths.h), derived files included, and its backends'.
    if (!args->cache.empty()) setenv("CPUINFER_CACHE", fs::absolute(args->cache).c_str(), 1);
    exit_code = args->worker.backend.empty() ? run_bench(*args) : run_bench_worker(*args);
  });
}

}  // namespace cpuinfer
