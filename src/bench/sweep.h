// The benchmark sweep: for every backend, for every batch size, warm up, then run the samples of
// the workload in batches (the last incomplete batch dropped), timing only the inference call, in
// passes over the samples until at least --min-time seconds have been timed. Each (backend, batch
// size, variant) becomes one result row, appended to the result files at once; --repeat runs the
// whole sweep again, its rows numbered by `repeat`.
//
// Each backend runs in a process of its own (bench/backend_process.h): this program again, with
// the worker flags that name the backend, which rebuilds the workload from the same flags and
// sends its rows back. A crash, a hang past the timeout or an out-of-memory kill there becomes a
// failed row for each row it did not finish, and the sweep goes on. Outputs are compared with the
// reference backend's through a file the reference's process writes after each of its rows.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace cpuinfer {

class Workload;
class ResultFiles;
class Progress;

struct SweepOptions {
  std::vector<std::string> backends;
  std::vector<int> batch_sizes;  // the model's batch: for a fixed-batch model, its batch
  int threads = 1;
  int warmup = 3;         // untimed batches before each (backend, batch size)
  std::string reference;  // backend whose outputs the others are compared with
  // The int8 model's calibration data as --calibration flags ("[name=]FILE.npy"); empty: the run's
  // samples (bench/quantized_model.h).
  std::vector<std::string> calibration;
  double min_time_s = 0;   // timed seconds per row at least (whole passes over the samples); 0: one pass
  int repeats = 1;         // times the whole sweep runs
  double timeout_s = 0;    // a backend process that finishes no row for this long is killed; 0: never
  std::optional<double> tolerance;     // max_rel_diff a row may reach and be ok; none: its precision's (bench/tolerance.h)
  std::filesystem::path save_outputs;  // every backend's outputs per sample as .npy under here; empty: none
  // The command that runs this program again with the same flags: backends then run in processes
  // of their own. Empty: every backend in this process, one after the other.
  std::vector<std::string> worker_command;
};

// Throws cpuinfer::Error for an impossible configuration (a batch size above the sample count, or
// other than a fixed-batch model's) — call it before creating result files. Unknown backend names
// fail in make_backend.
void check_sweep(const Workload& workload, const SweepOptions& options);

// The backend order of a sweep: the reference first, then the others as given.
std::vector<std::string> sweep_order(const SweepOptions& options);

struct SweepOutcome {
  int interrupted_by = 0;  // the signal that stopped the sweep (core/interrupt.h); 0: it ran to its end
  // Backend processes that ended badly after sending all their rows (a crash or a sanitizer's exit
  // code at teardown): "native's process crashed (signal 11, ...) after its last row".
  std::vector<std::string> process_failures;
};

// Checks the configuration (check_sweep), then runs; failures of a backend become rows.
SweepOutcome run_sweep(const Workload& workload, const SweepOptions& options, ResultFiles& results, Progress& progress);

// A backend process's part of a sweep (the worker flags of `bench`).
struct WorkerJob {
  std::string backend;
  std::filesystem::path int8_model;      // the int8 model the sweep made, if a backend needs it
  std::filesystem::path reference_file;  // the reference's outputs: read, or written if this backend becomes it
  std::string reference_backend;         // the reference, if one has loaded; empty: this backend becomes it if it loads
};

// Runs the job's rows in this process and sends each to the sweep that started it.
void run_sweep_worker(const Workload& workload, const SweepOptions& options, const WorkerJob& job, Progress& progress);

}  // namespace cpuinfer
