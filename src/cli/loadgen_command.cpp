// `cpuinfer loadgen`: MLPerf's scenarios and perf_analyzer-style sweeps against the engine in this
// process or an Open Inference Protocol server (loadgen/scenarios.h), every answer checked against
// a reference backend's outputs, rows written as they finish (bench/result_files.h).
#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "backends/registry.h"
#include "bench/onnx_model_workload.h"
#include "bench/progress.h"
#include "bench/quantized_model.h"
#include "bench/result_files.h"
#include "bench/tolerance.h"
#include "bench/workload.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/run_header.h"
#include "core/error.h"
#include "core/machine.h"
#include "core/paths.h"
#include "loadgen/endpoint.h"
#include "loadgen/expected_outputs.h"
#include "loadgen/grpc_target.h"
#include "loadgen/in_process_target.h"
#include "loadgen/rest_target.h"
#include "loadgen/scenarios.h"
#include "report/report.h"

namespace cpuinfer {

namespace {

struct LoadgenArgs {
  std::string scenario;
  std::string workload = "resnet101";
  std::string model;
  std::vector<std::string> shapes, inputs;
  std::string backend = "native";
  std::string url;
  std::string concurrency, request_rate;
  std::string arrivals = "poisson";
  std::size_t samples = 32;
  int instances = 1, threads = 0;
  std::size_t max_batch = 8;
  std::string reference = "ort";
  std::size_t check_every = 10;
  std::optional<double> tolerance;
  int connections = 64;
  double timeout = 60;
  std::string data, weights, text_lengths;
  std::uint64_t seed = 0, weights_seed = 0;
  std::string out = "results";
  bool quiet = false;
  loadgen::ScenarioOptions options;
  std::string command_line;
};

// "8", "1,2,4" or "1:16:2" (start:end[:step], perf_analyzer's ranges).
template <typename T>
std::vector<T> parse_range(const std::string& text, const char* flag) {
  const auto number = [&](const std::string& s) {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || !(v > 0)) fail("{} '{}': '{}' is not a number above 0", flag, text, s);
    if (std::is_integral_v<T> && v != std::floor(v)) fail("{} '{}': '{}' is not a whole number", flag, text, s);
    return static_cast<T>(v);
  };
  std::vector<std::string> parts;
  const char sep = text.find(':') != std::string::npos ? ':' : ',';
  for (std::size_t at = 0;;) {
    const std::size_t next = text.find(sep, at);
    parts.push_back(text.substr(at, next - at));
    if (next == std::string::npos) break;
    at = next + 1;
  }
  std::vector<T> values;
  if (sep == ',') {
    for (const std::string& p : parts) values.push_back(number(p));
    return values;
  }
  if (parts.size() < 2 || parts.size() > 3) fail("{} '{}': a range is start:end or start:end:step", flag, text);
  const T start = number(parts[0]), end = number(parts[1]), step = parts.size() == 3 ? number(parts[2]) : T(1);
  if (end < start) fail("{} '{}': the end is below the start", flag, text);
  for (T v = start; v <= end * (1 + 1e-9); v += step) values.push_back(v);
  if (values.size() > 1000) fail("{} '{}': more than 1000 points", flag, text);
  return values;
}

std::unique_ptr<Workload> build_workload(const LoadgenArgs& a, Progress& progress) {
  if (!a.model.empty()) {
    ModelWorkloadOptions mo = model_options_from_flags(a.model, a.shapes, a.inputs);
    mo.samples = a.samples;
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
  wo.text_lengths = a.text_lengths;
  return make_workload(wo, progress);
}

// The file `backend` loads: the workload's export in its format, or the run's int8 model.
std::filesystem::path model_file(const Workload& w, const std::string& backend, int threads, Progress& progress) {
  const std::string format = make_backend(backend, BackendOptions{})->format();
  if (format == kInt8Format) return quantized_model(w, threads, {}, progress);
  const auto file = w.model().files.by_format.find(format);
  if (file == w.model().files.by_format.end()) fail("unsupported: backend {} needs a {} export of {}, and there is none", backend, format, w.name());
  return file->second;
}

int run_loadgen(LoadgenArgs& a) {
  const bool sweep = !a.concurrency.empty() || !a.request_rate.empty();
  if (sweep == !a.scenario.empty())
    fail("{}", sweep ? "--scenario and a sweep (--concurrency, --request-rate) are two kinds of run: give one"
               : "give --scenario (singlestream, multistream, server, offline) or a sweep (--concurrency, --request-rate)");
  if (!a.concurrency.empty() && !a.request_rate.empty()) fail("--concurrency and --request-rate are two sweeps: give one");
  if (!a.concurrency.empty()) a.options.concurrencies = parse_range<int>(a.concurrency, "--concurrency");
  if (!a.request_rate.empty()) a.options.rates = parse_range<double>(a.request_rate, "--request-rate");
  a.options.poisson = a.arrivals == "poisson";
  a.options.check_every = a.check_every;
  a.options.seed = a.seed + 1;
  const MachineInfo machine = read_machine_info();
  if (a.threads <= 0) a.threads = std::max(1, machine.usable_cores / std::max(1, a.instances));
  make_backend(a.reference, BackendOptions{});  // an unknown name fails before any work
  if (a.url.empty()) make_backend(a.backend, BackendOptions{});
  const auto endpoint = a.url.empty() ? std::optional<loadgen::Endpoint>() : loadgen::parse_endpoint(a.url);
  if (!a.out.empty()) check_writable_folder(a.out, "--out");
  const auto say = [&](const std::string& line) {
    if (!a.quiet) fmt::print(stderr, "{}\n", line);
  };

  Progress progress(!a.quiet);
  const std::unique_ptr<Workload> workload = build_workload(a, progress);
  const std::size_t sample_count = std::min(a.samples ? a.samples : workload->size(), workload->size());
  if (workload->model().random_weights) say(fmt::format("note: {} uses seeded random weights: accuracy is meaningless, agreement is not", workload->name()));

  // The expected outputs: the reference backend on every sample of the run, alone.
  std::optional<loadgen::ExpectedOutputs> expected;
  Precision precision = Precision::f32;
  if (a.url.empty()) precision = row_precision(make_backend(a.backend, BackendOptions{})->precision(), workload->model().quantized);
  const double tolerance = a.tolerance.value_or(default_tolerance(precision));
  if (a.check_every > 0) {
    const std::unique_ptr<Backend> reference = make_backend(a.reference, BackendOptions{std::max(1, machine.usable_cores)});
    const auto file = model_file(*workload, a.reference, machine.usable_cores, progress);
    reference->load(file);
    progress.start(fmt::format("expected outputs ({})", a.reference), sample_count);
    expected.emplace(*workload, *reference, sample_count, tolerance);
    progress.finish(fmt::format("{} samples, tolerance {:g} (max_rel_diff)", sample_count, tolerance));
  }
  const loadgen::ExpectedOutputs* check = expected ? &*expected : nullptr;

  std::unique_ptr<loadgen::Target> target;
  if (!endpoint) {
    loadgen::InProcessOptions io;
    io.backend = a.backend;
    io.model = model_file(*workload, a.backend, a.threads, progress);
    io.instances = a.instances;
    io.threads = a.threads;
    io.max_batch = a.max_batch;
    auto in_process = std::make_unique<loadgen::InProcessTarget>(*workload, io, check);
    a.options.capacity_hint = in_process->single_sample_ms() > 0 ? a.instances * 1000.0 / in_process->single_sample_ms() : 0;
    target = std::move(in_process);
  } else if (endpoint->scheme == "http") {
    target = std::make_unique<loadgen::RestTarget>(*endpoint, *workload, check, a.connections, a.timeout);
  } else {
    target = std::make_unique<loadgen::GrpcTarget>(*endpoint, *workload, check, a.timeout);
  }

  nlohmann::ordered_json header = run_header(a.command_line, machine, a.url.empty() ? std::vector<std::string>{a.backend, a.reference} : std::vector<std::string>{a.reference});
  header["workload"] = workload->description();
  header["workload"]["name"] = workload->name();
  header["workload"]["random_weights"] = workload->model().random_weights;
  header["target"] = target->description();
  header["protocol"] = {{"kind", sweep ? "sweep" : a.scenario},
                        {"seconds", a.options.seconds},
                        {"latency_bound_ms", a.options.latency_bound_ms ? nlohmann::ordered_json(*a.options.latency_bound_ms) : nlohmann::ordered_json()},
                        {"samples", sample_count},
                        {"latency", "from each query's intended send time (open loops) or its send (closed loops) to its whole answer, steady_clock"},
                        {"checked", a.check_every ? fmt::format("one query in {} against {} (max_rel_diff <= {:g})", a.check_every, a.reference, tolerance) : "no"},
                        {"windows", sweep ? nlohmann::ordered_json({{"seconds", a.options.window_seconds}, {"max", a.options.max_windows}, {"stability", a.options.stability}})
                                          : nlohmann::ordered_json()},
                        {"seed", a.seed}};
  const std::string stem = fmt::format("loadgen-{}-{}-{}", sweep ? "sweep" : a.scenario, workload->name(), utc_timestamp("{:%Y%m%d-%H%M%S}"));
  ResultFiles results(a.out, stem, header, loadgen::loadgen_columns());
  say(fmt::format("{} on {}: {} samples, {}", sweep ? "sweep" : a.scenario, header["target"].value("url", a.backend + " in process"), sample_count,
                  a.url.empty() ? fmt::format("{} instance(s) x {} threads, batches up to {}", a.instances, a.threads, a.max_batch) : "over the network"));
  const auto emit = [&](nlohmann::ordered_json row) { results.append(std::move(row)); };
  if (sweep) loadgen::run_sweep(*target, sample_count, a.options, emit, say);
  else loadgen::run_scenario(a.scenario, *target, sample_count, a.options, emit, say);
  results.finish();
  fmt::print("results: {}\n         {}\n", results.csv_path().string(), results.json_path().string());
  // The report is a view of the results, which are on disk already: a failure here is reported, and the results stand.
  std::filesystem::path report = results.json_path();
  report.replace_extension(".html");
  try {
    write_report({results.json_path()}, ReportOptions{}, ReportFormat::html, report);
    fmt::print("report:  {}\n", report.string());
  } catch (const Error& e) {
    fmt::print(stderr, "cpuinfer: warning: report not written: {}\n", e.what());
  }
  // A wrong answer anywhere fails the run; failed requests fail it in its results, not in a Server
  // probe that overloads the target on purpose (a full queue's 503 is an answer there).
  for (const auto& row : results.rows())
    if (row.value("wrong_answers", 0) > 0 || (row.value("kind", "") != "probe" && row.value("errors", 0) > 0)) {
      fmt::print(stderr, "cpuinfer: error: {} {}: {}\n", row.value("scenario", ""), row.value("kind", ""), row.value("status", ""));
      return 1;
    }
  return 0;
}

}  // namespace

void add_loadgen_command(CLI::App& app, int& exit_code, const std::string& command_line) {
  auto args = std::make_shared<LoadgenArgs>();
  args->command_line = command_line;
  auto* cmd = app.add_subcommand("loadgen", "Load a model, in process or behind an Open Inference Protocol server: MLPerf scenarios and "
                                            "concurrency or request-rate sweeps, every answer checked");
  cmd->add_option("--scenario", args->scenario, "MLPerf scenario: singlestream (p90), multistream (8 samples a query, p99), server "
                  "(the largest Poisson rate whose p99 keeps --latency-bound), offline (throughput)")
      ->check(CLI::IsMember(loadgen::scenario_names()));
  cmd->add_option("--workload", args->workload, "Workload whose model and samples are used")->check(CLI::IsMember(workload_names()))->capture_default_str();
  auto* model = cmd->add_option("--model", args->model, "Any ONNX model instead of a workload (inputs generated, or --input)")->check(CLI::ExistingFile);
  cmd->add_option("--shape", args->shapes, "--model: an input's shape, input=1x3x224x224, or a symbolic size, sequence=128")->needs(model);
  cmd->add_option("--input", args->inputs, "--model: an input's data, name=file.npy or name=FOLDER")->needs(model);
  cmd->add_option("--backend", args->backend, "In process: the backend under load (see `cpuinfer backends`)")->capture_default_str();
  cmd->add_option("--url", args->url, "A server instead: http://HOST:PORT/v2/models/M[/versions/V] or grpc://HOST:PORT/M[/V]");
  cmd->add_option("--concurrency", args->concurrency, "Sweep closed loops: N, N1,N2,... or START:END[:STEP] queries outstanding");
  cmd->add_option("--request-rate", args->request_rate, "Sweep open loops: queries per second, R, R1,R2,... or START:END[:STEP]");
  cmd->add_option("--arrivals", args->arrivals, "--request-rate: poisson or constant gaps")->check(CLI::IsMember({"poisson", "constant"}))->capture_default_str();
  cmd->add_option("--duration", args->options.seconds, "Seconds: a scenario's run, a Server probe's, a sweep point's longest")
      ->check(number_in(0.1, 86400, "seconds"))->capture_default_str();
  cmd->add_option("--latency-bound", args->options.latency_bound_ms, "ms: the p99 the Server scenario must keep; a sweep stops past it")
      ->check(number_in(0.001, 1e7, "ms"));
  cmd->add_option("--window", args->options.window_seconds, "Sweeps: seconds per measurement window")->check(number_in(0.1, 3600, "seconds"))->capture_default_str();
  cmd->add_option("--max-windows", args->options.max_windows, "Sweeps: windows before a point is called unstable")->check(whole_number(3, 1000))->capture_default_str();
  cmd->add_option("--stability", args->options.stability, "Sweeps: how closely the last 3 windows must agree (0.1: within 10%)")
      ->check(number_in(0.001, 10))->capture_default_str();
  cmd->add_option("--search-steps", args->options.search_steps, "Server: rates probed")->check(whole_number(1, 100))->capture_default_str();
  cmd->add_option("--samples", args->samples, "Samples the queries take in turn (0: all of the workload's)")->check(non_negative_integer())->capture_default_str();
  cmd->add_option("--instances", args->instances, "In process: backend instances taking queries from one queue")->check(whole_number(1, 256))->capture_default_str();
  cmd->add_option("--threads", args->threads, "In process: threads per instance (0: the usable cores / instances)")->check(whole_number(0, 1024))->capture_default_str();
  cmd->add_option("--max-batch", args->max_batch, "In process: samples an instance takes from the queue at once")->check(whole_number(1, 4096))->capture_default_str();
  cmd->add_option("--reference", args->reference, "Backend whose outputs every checked answer is compared with")->capture_default_str();
  cmd->add_option("--check-every", args->check_every, "Check one answer in N (0: none)")->check(non_negative_integer())->capture_default_str();
  cmd->add_option("--tolerance", args->tolerance, "max_rel_diff an answer may have (default: by the backend's precision; remote: float32's)")
      ->check(number_in(0, 1e9));
  cmd->add_option("--connections", args->connections, "REST: connections opened at most")->check(whole_number(1, 10000))->capture_default_str();
  cmd->add_option("--timeout", args->timeout, "Seconds a request may take before it is an error")->check(number_in(0.001, 86400, "seconds"))->capture_default_str();
  cmd->add_option("--data", args->data, "Data set (as `cpuinfer bench --data`)");
  cmd->add_option("--weights", args->weights, "Checkpoint (as `cpuinfer bench --weights`)")->check(CLI::ExistingFile);
  cmd->add_option("--text-lengths", args->text_lengths, "bert: sentences or imdb (review-length texts)")->check(CLI::IsMember({"sentences", "imdb"}));
  cmd->add_option("--seed", args->seed, "Seed of the samples and the arrivals")->check(non_negative_integer())->capture_default_str();
  cmd->add_option("--weights-seed", args->weights_seed, "Seed of the random weights")->check(non_negative_integer())->capture_default_str();
  cmd->add_option("--out", args->out, "Folder for the CSV and JSON rows")->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "No progress on stderr");
  cmd->callback([args, &exit_code] { exit_code = run_loadgen(*args); });
}

}  // namespace cpuinfer
