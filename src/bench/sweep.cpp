// Backends x batch sizes, with timing, accuracy and agreement with the reference backend; each
// backend in its own process, or all in this one.
#include "bench/sweep.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <malloc.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>

#include "backends/registry.h"
#include "bench/backend_process.h"
#include "bench/metrics.h"
#include "bench/progress.h"
#include "bench/quantized_model.h"
#include "bench/reference_outputs.h"
#include "bench/result_files.h"
#include "bench/tolerance.h"
#include "bench/workload.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/machine.h"
#include "core/significant_digits.h"
#include "data/npy_file.h"

namespace cpuinfer {

std::vector<std::string> sweep_order(const SweepOptions& options) {
  std::vector<std::string> order;
  if (!options.reference.empty()) order.push_back(options.reference);
  for (const auto& b : options.backends)
    if (b != options.reference) order.push_back(b);
  return order;
}

void check_sweep(const Workload& w, const SweepOptions& o) {
  const std::size_t rows = w.rows_per_sample();
  for (int b : o.batch_sizes) {
    if (b <= 0) fail("invalid batch size {}: must be at least 1", b);
    const auto batch = static_cast<std::size_t>(b);
    if (rows > 1 && batch != rows)
      fail("batch size {}: {} has a fixed batch of {} (no input has an open first dimension): use --batch-sizes {} or leave "
           "--batch-sizes out",
           b, w.name(), rows, rows);
    if (rows > 1) continue;
    if (batch > w.max_batch_size() && w.max_batch_size() < w.size())
      fail("batch size {}: {} has no batch dimension (no symbolic first dimension left open): use --batch-sizes 1", b,
           w.name());
    if (batch > w.size()) fail("batch size {} exceeds the {} samples of the run: use --samples {} or more", b, w.size(), b);
  }
  for (std::size_t i = 0; i < o.batch_sizes.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (o.batch_sizes[i] == o.batch_sizes[j]) fail("--batch-sizes gives {} twice", o.batch_sizes[i]);
  if (o.repeats < 1) fail("--repeat {}: must be at least 1", o.repeats);
  if (!(o.min_time_s >= 0) || !std::isfinite(o.min_time_s)) fail("--min-time {}: must be 0 or more seconds", o.min_time_s);
}

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

// The rows one backend gives: every batch size with every variant, in that order.
struct RowKey {
  int batch_size = 0;
  std::string variant;
};

std::vector<RowKey> row_keys(const Workload& w, const SweepOptions& o) {
  std::vector<RowKey> keys;
  for (int b : o.batch_sizes)
    for (const std::string& v : w.variants()) keys.push_back({b, v});
  return keys;
}

std::string row_label(const Workload& w, const std::string& backend, const RowKey& key) {
  return fmt::format("{} {} batch {}{}", w.name(), backend, key.batch_size, key.variant.empty() ? "" : " " + key.variant);
}

// What is compared with the reference at once (bench/reference_outputs.h): one sample's slice of
// every output when all outputs have the batch's samples as their first dimension, else the batch's
// outputs whole. Values are the outputs' one after another, as float32.
struct Unit {
  ReferenceOutputs::Key samples;
  std::vector<float> values;
  std::vector<Tensor> outputs;  // the unit's own slices, in their dtype (for --save-outputs)
};

struct Units {
  std::vector<Unit> units;
  std::size_t top1_size = 0;  // values of output 0 per unit when top-1 is compared, else 0
};

Units output_units(const std::vector<Tensor>& outputs, const PlannedBatch& planned, const Workload& w, bool keep_slices) {
  if (outputs.empty()) fail("the model gave no outputs");
  const std::size_t n = planned.samples.size();
  const auto batch = static_cast<std::int64_t>(n);
  if (w.labelled() && (outputs[0].dtype() != DType::f32 || outputs[0].rank() != 2 || outputs[0].dim(0) != batch))
    fail("output 0 has shape {}, expected {}xC float32 logits", shape_string(outputs[0].shape()), n);
  const bool split = n > 1 && std::all_of(outputs.begin(), outputs.end(), [&](const Tensor& t) {
                       return t.rank() > 0 && t.dim(0) == batch;
                     });
  Units u;
  const std::size_t parts = split ? n : 1;
  u.units.resize(parts);
  if (split) {
    for (std::size_t i = 0; i < n; ++i) u.units[i].samples = {planned.samples[i]};
  } else {
    u.units[0].samples = planned.samples;
  }
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const Tensor values = cast(outputs[k], DType::f32);
    const std::size_t per = values.numel() / parts;
    if (k == 0 && w.classifies() && w.rows_per_sample() == 1 && (split || n == 1)) u.top1_size = per;
    const float* v = values.values<float>().data();
    for (std::size_t i = 0; i < parts; ++i) {
      u.units[i].values.insert(u.units[i].values.end(), v + i * per, v + (i + 1) * per);
      if (!keep_slices) continue;
      if (!split) {
        u.units[i].outputs.push_back(outputs[k]);
        continue;
      }
      Shape shape = outputs[k].shape();
      shape[0] = 1;
      Tensor slice = Tensor::uninitialized(outputs[k].dtype(), shape);
      const std::size_t bytes = slice.nbytes();
      std::memcpy(slice.data(), static_cast<const std::byte*>(outputs[k].data()) + i * bytes, bytes);
      u.units[i].outputs.push_back(std::move(slice));
    }
  }
  return u;
}

// Samples of the batch whose top-1 in output 0 (B x C logits, output_units checked) is their label.
std::size_t correct_top1(const Tensor& logits, const PlannedBatch& planned, const Workload& w) {
  const std::size_t n = planned.samples.size(), classes = logits.numel() / n;
  const std::span<const float> values = logits.values<float>();
  std::size_t correct = 0;
  for (std::size_t i = 0; i < n; ++i)
    correct += static_cast<int>(argmax(values.subspan(i * classes, classes))) == w.label(planned.samples[i]);
  return correct;
}

// --save-outputs: DIR/<backend>/batch<B>[-<variant>]/sample<i>[+<j>...].output<k>.npy
void save_unit_outputs(const std::filesystem::path& dir, const std::string& backend, const RowKey& key, const Unit& unit) {
  const std::filesystem::path folder =
      dir / backend / fmt::format("batch{}{}", key.batch_size, key.variant.empty() ? "" : "-" + key.variant);
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) fail("--save-outputs: cannot create {}: {}", folder.string(), ec.message());
  for (std::size_t k = 0; k < unit.outputs.size(); ++k) {
    const Tensor& t = unit.outputs[k];
    write_npy(folder / fmt::format("sample{}.output{}.npy", fmt::join(unit.samples, "+"), k),
              npy_holds(t.dtype()) ? t : cast(t, DType::f32));  // bfloat16 as float32
  }
}

nlohmann::ordered_json base_row(const Workload& w, const Backend& b, const RowKey& key, const SweepOptions& o) {
  nlohmann::ordered_json row;
  row["name"] = b.name();
  row["batch_size"] = key.batch_size;
  row["time_per_input"] = nullptr;
  row["total_time"] = nullptr;
  row["accuracy"] = nullptr;
  row["workload"] = w.name();
  row["padding"] = key.variant.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(key.variant);
  row["samples"] = 0;
  row["threads"] = o.threads;
  row["backend_version"] = b.version();
  row["weights"] = w.model().weights;
  row["dataset"] = w.dataset();
  row["settings"] = b.settings();
  row["warmup_batches"] = o.warmup;
  return row;
}

nlohmann::ordered_json optional_number(std::optional<double> v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

// One backend in this process: where its rows go, and the cold start it measured.
struct BackendRun {
  const Workload& w;
  const SweepOptions& o;
  Backend& backend;
  ReferenceOutputs& ref;
  const std::string& ref_backend;
  Progress& progress;
  std::optional<double> first_run_ms;  // the first inference after load
};

// One row's measurements. Throws on a run failure.
void measure(BackendRun& r, const RowKey& key, nlohmann::ordered_json& row) {
  const Workload& w = r.w;
  const std::size_t per_batch = static_cast<std::size_t>(key.batch_size) / w.rows_per_sample();  // samples
  const std::vector<PlannedBatch> plan = w.plan(per_batch, key.variant);
  if (plan.empty()) fail("no full batch of {} in {} samples", key.batch_size, w.size());
  row.update(w.plan_stats(plan));
  const auto timed_run = [&](const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) {
    const auto start = Clock::now();
    std::vector<Tensor> out = r.backend.run(inputs);
    const double ms = ms_since(start);
    if (!r.first_run_ms) r.first_run_ms = ms;
    if (outputs) *outputs = std::move(out);
    return ms;
  };
  // The first call at this batch size, where a runtime plans for the new shape (the first warm-up
  // call, or the first timed one without warm-up).
  if (r.o.warmup > 0) {
    const std::vector<Tensor> first = w.batch(plan.front());
    row["first_batch_ms"] = timed_run(first, nullptr);
    r.backend.warm_up(first, r.o.warmup - 1);
  }

  std::vector<double> latencies_ms;
  std::size_t correct = 0;
  Agreement agreement;
  const bool is_reference = r.ref_backend == r.backend.name();
  const std::size_t samples = plan.size() * per_batch;
  r.progress.start(row_label(w, r.backend.name(), key), samples);
  // The first pass: timed, and its outputs checked.
  for (const PlannedBatch& planned : plan) {
    std::vector<Tensor> outputs;
    latencies_ms.push_back(timed_run(w.batch(planned), &outputs));
    const Units units = output_units(outputs, planned, w, !r.o.save_outputs.empty());
    if (w.labelled()) correct += correct_top1(outputs[0], planned, w);
    for (const Unit& unit : units.units) {
      if (const std::vector<float>* stored = r.ref.find(unit.samples)) {
        agreement.add(unit.values, *stored, units.top1_size);
      } else if (is_reference) {
        r.ref.store(unit.samples, unit.values);
      }
      if (!r.o.save_outputs.empty()) save_unit_outputs(r.o.save_outputs, r.backend.name(), key, unit);
    }
    r.progress.advance(per_batch);
  }
  // More passes, timed only, until --min-time is reached.
  std::size_t passes = 1;
  double timed_s = std::accumulate(latencies_ms.begin(), latencies_ms.end(), 0.0) / 1000.0;
  if (timed_s < r.o.min_time_s)
    r.progress.resize(samples * static_cast<std::size_t>(std::ceil(r.o.min_time_s / std::max(timed_s, 1e-9))));
  while (timed_s < r.o.min_time_s) {
    for (const PlannedBatch& planned : plan) {
      latencies_ms.push_back(timed_run(w.batch(planned), nullptr));
      timed_s += latencies_ms.back() / 1000.0;
      r.progress.advance(per_batch);
    }
    ++passes;
  }
  if (r.o.warmup == 0) row["first_batch_ms"] = latencies_ms.front();
  const auto inputs = static_cast<double>(passes * samples * w.rows_per_sample());  // the model's batch rows
  const LatencyStats stats = summarize(latencies_ms);
  row["time_per_input"] = timed_s / inputs;
  row["total_time"] = timed_s;
  row["accuracy"] = w.labelled() ? nlohmann::ordered_json(static_cast<double>(correct) / static_cast<double>(samples)) : nullptr;
  row["samples"] = samples * w.rows_per_sample();
  row["passes"] = passes;
  row["timed_batches"] = latencies_ms.size();
  row["samples_per_s"] = inputs / timed_s;
  row["latency_mean_ms"] = stats.mean;
  row["latency_std_ms"] = stats.stddev;
  row["latency_min_ms"] = stats.min;
  row["latency_max_ms"] = stats.max;
  row["latency_p50_ms"] = optional_number(stats.p50);
  row["latency_p90_ms"] = optional_number(stats.p90);
  row["latency_p99_ms"] = optional_number(stats.p99);
  row["top1_agreement"] = optional_number(agreement.top1_agreement());
  row["max_abs_diff"] = agreement.compared ? nlohmann::ordered_json(agreement.max_abs_diff) : nullptr;
  row["max_rel_diff"] = optional_number(agreement.max_rel_diff());
  row["compared_samples"] = agreement.compared;
  row["nonfinite_mismatches"] = agreement.nonfinite_mismatches;
  row["latencies_ms"] = latencies_ms;
}

using EmitRow = std::function<void(nlohmann::ordered_json row)>;

// Loads one backend in this process and measures its rows. If `ref_backend` is empty and this
// backend loads, it becomes the reference.
void run_backend(const Workload& w, const SweepOptions& o, const std::string& name, const ModelFiles& files,
                 const std::map<std::string, std::string>& export_errors, ReferenceOutputs& ref, std::string& ref_backend,
                 const EmitRow& emit, Progress& progress) {
  const std::unique_ptr<Backend> backend = make_backend(name, BackendOptions{o.threads});
  const bool rss_reset = reset_peak_rss();
  std::string load_error;
  std::optional<double> load_ms;  // model file to ready session
  const auto file = files.by_format.find(backend->format());
  if (file == files.by_format.end()) {
    const auto why = export_errors.find(backend->format());
    load_error = why != export_errors.end() ? fmt::format("failed: export: {}", why->second)
                                            : fmt::format("unsupported: no {} export of {}", backend->format(), w.name());
  } else if (!std::filesystem::is_regular_file(file->second)) {
    load_error = fmt::format("failed: load: model file not found: {}", file->second.string());
  } else {
    backend->inspect(file->second);  // not part of loading: before the clock starts
    try {
      const auto start = Clock::now();
      backend->load(file->second);
      load_ms = ms_since(start);
      if (ref_backend.empty()) ref_backend = name;
    } catch (const Unsupported& e) {
      load_error = fmt::format("unsupported: load: {}", e.what());
    } catch (const Error& e) {
      load_error = fmt::format("failed: load: {}: {}", file->second.filename().string(), e.what());
    }
  }
  BackendRun run{w, o, *backend, ref, ref_backend, progress, std::nullopt};
  const Precision precision = row_precision(backend->precision(), w.model().quantized);
  const double tolerance = o.tolerance.value_or(default_tolerance(precision));
  for (const RowKey& key : row_keys(w, o)) {
    nlohmann::ordered_json row = base_row(w, *backend, key, o);
    row["precision"] = precision_name(precision);
    row["tolerance"] = tolerance;
    std::string status = load_error.empty() ? "ok" : load_error;
    std::string summary;
    if (load_error.empty()) {
      try {
        measure(run, key, row);
        summary = fmt::format("{} ms/batch mean", significant_digits(row["latency_mean_ms"].get<double>()));
        if (const auto mismatches = row["nonfinite_mismatches"].get<std::size_t>(); mismatches > 0) {
          status = fmt::format("failed: run: {} output values are NaN or infinite where the reference's are not (or the "
                               "other way round)", mismatches);
          summary = "failed";
        } else {
          status = agreement_status(row["max_rel_diff"].is_number() ? std::optional(row["max_rel_diff"].get<double>()) : std::nullopt,
                                    row["max_abs_diff"].is_number() ? row["max_abs_diff"].get<double>() : 0.0,
                                    row["compared_samples"].get<std::size_t>(), tolerance);
          if (status != "ok") summary = status;
        }
      } catch (const Unsupported& e) {
        summary = "unsupported";
        status = fmt::format("unsupported: run: {}", e.what());
      } catch (const Error& e) {
        summary = "failed";
        status = fmt::format("failed: run: {}", e.what());
      }
    } else {
      progress.start(row_label(w, name, key), 0);
      summary = status;
    }
    row["reference"] = ref_backend.empty() ? nullptr : nlohmann::ordered_json(ref_backend);
    row["peak_rss_mb"] = static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0);
    // "backend": since this backend started loading; "process": its process's whole life.
    row["peak_rss_scope"] = rss_reset ? "backend" : "process";
    row["load_ms"] = optional_number(load_ms);
    row["first_run_ms"] = optional_number(run.first_run_ms);
    row["status"] = status;
    emit(std::move(row));
    progress.finish(summary);  // after the row is on disk
  }
}

// The int8 model of native-int8 and ort-int8, made from the export before any backend loads.
void add_int8_model(const Workload& w, const SweepOptions& o, ModelFiles& files,
                    std::map<std::string, std::string>& export_errors, Progress& progress) {
  const bool wanted = std::ranges::any_of(sweep_order(o), [](const std::string& name) {
    return make_backend(name, BackendOptions{})->format() == kInt8Format;
  });
  if (!wanted) return;
  try {
    files.by_format[kInt8Format] = quantized_model(w, o.threads, o.calibration, progress);
  } catch (const Error& e) {
    export_errors[kInt8Format] = e.what();
  }
}

// A folder for the reference outputs files of one sweep, removed with it.
class ScratchFolder {
 public:
  ScratchFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cpuinfer-sweep-XXXXXX").string();
    if (!mkdtemp(pattern.data())) fail("cannot create a temporary folder in {}", std::filesystem::temp_directory_path().string());
    path_ = pattern;
  }
  ~ScratchFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// One backend in a process of its own; rows it did not finish become failed rows.
// Returns false if the sweep was interrupted.
bool run_backend_process_rows(const Workload& w, const SweepOptions& o, const std::string& name, const ModelFiles& files,
                              const std::map<std::string, std::string>& export_errors,
                              const std::filesystem::path& reference_file, std::string& ref_backend, const EmitRow& emit,
                              Progress& progress, SweepOutcome& outcome) {
  if (!files.by_format.count(make_backend(name, BackendOptions{})->format())) {
    // Nothing to load (its export failed): its rows say why, without a process.
    ReferenceOutputs none;
    run_backend(w, o, name, files, export_errors, none, ref_backend, emit, progress);
    return true;
  }
  std::vector<std::string> argv = o.worker_command;
  argv.insert(argv.end(), {"--worker-backend", name, "--worker-reference-file", reference_file.string()});
  if (!ref_backend.empty()) argv.insert(argv.end(), {"--worker-reference-backend", ref_backend});
  if (const auto int8 = files.by_format.find(kInt8Format); int8 != files.by_format.end())
    argv.insert(argv.end(), {"--worker-int8-model", int8->second.string()});
  std::size_t received = 0;
  const ProcessEnd end = run_backend_process(argv, o.timeout_s, [&](const nlohmann::ordered_json& message) {
    nlohmann::ordered_json row = message.at("row");
    // The reference is whichever backend's rows first say they are it (the first that loaded).
    if (ref_backend.empty() && row.at("status").get<std::string>() == "ok") ref_backend = name;
    ++received;
    emit(std::move(row));
  });
  if (end.kind == ProcessEnd::Kind::interrupted) return false;
  const std::vector<RowKey> keys = row_keys(w, o);
  if (received >= keys.size()) {
    if (end.kind != ProcessEnd::Kind::finished)
      outcome.process_failures.push_back(fmt::format("{}'s process {} after its last row", name, end.describe(o.timeout_s)));
    return true;
  }
  const std::unique_ptr<Backend> backend = make_backend(name, BackendOptions{o.threads});
  for (std::size_t k = received; k < keys.size(); ++k) {
    nlohmann::ordered_json row = base_row(w, *backend, keys[k], o);
    row["reference"] = ref_backend.empty() ? nullptr : nlohmann::ordered_json(ref_backend);
    row["status"] = fmt::format("failed: run: {}", end.describe(o.timeout_s));
    fmt::print(stderr, "failed: {}: {}\n", row_label(w, name, keys[k]), end.describe(o.timeout_s));
    emit(std::move(row));
  }
  return true;
}

}  // namespace

SweepOutcome run_sweep(const Workload& w, const SweepOptions& o, ResultFiles& results, Progress& progress) {
  check_sweep(w, o);
  for (const auto& name : sweep_order(o)) make_backend(name, BackendOptions{});  // unknown names fail here
  ModelFiles files = w.model().files;
  std::map<std::string, std::string> export_errors = w.model().export_errors;
  add_int8_model(w, o, files, export_errors, progress);

  const ScratchFolder scratch;
  SweepOutcome outcome;
  for (int repeat = 1; repeat <= o.repeats; ++repeat) {
    const EmitRow emit = [&](nlohmann::ordered_json row) {
      row["repeat"] = repeat;
      results.append(std::move(row));
    };
    std::string ref_backend;
    ReferenceOutputs ref;
    const std::filesystem::path reference_file = scratch.path() / fmt::format("reference-{}.bin", repeat);
    for (const auto& name : sweep_order(o)) {
      if (o.worker_command.empty()) {
        run_backend(w, o, name, files, export_errors, ref, ref_backend, emit, progress);
        malloc_trim(0);  // give the heap the backend freed back, so the next backend's peak RSS starts low
      } else if (!run_backend_process_rows(w, o, name, files, export_errors, reference_file, ref_backend, emit, progress,
                                           outcome)) {
        outcome.interrupted_by = interrupt_signal();
        return outcome;
      }
      if (interrupt_signal() != 0) {
        outcome.interrupted_by = interrupt_signal();
        return outcome;
      }
    }
  }
  return outcome;
}

void run_sweep_worker(const Workload& w, const SweepOptions& o, const WorkerJob& job, Progress& progress) {
  ModelFiles files = w.model().files;
  if (!job.int8_model.empty()) files.by_format[kInt8Format] = job.int8_model;
  std::string ref_backend = job.reference_backend;
  ReferenceOutputs ref;
  if (!ref_backend.empty() && std::filesystem::exists(job.reference_file)) ref = ReferenceOutputs::load(job.reference_file);
  run_backend(w, o, job.backend, files, w.model().export_errors, ref, ref_backend,
              [&](nlohmann::ordered_json row) {
                if (ref_backend == job.backend) ref.save(job.reference_file);  // before the sweep hears of the row
                send_to_parent({{"row", std::move(row)}});
              },
              progress);
}

}  // namespace cpuinfer
