// The benchmark sweep: for every backend, for every batch size, warm up, then run each sample of
// the workload once in batches (the last incomplete batch dropped), timing only the inference
// call. Each (backend, batch size) becomes one result row, appended to the result files at once.
#pragma once

#include <string>
#include <vector>

#include "backends/backend.h"

namespace cpuinfer {

class Workload;
class ResultFiles;
class Progress;

struct SweepOptions {
  std::vector<std::string> backends;
  std::vector<int> batch_sizes;
  int threads = 1;
  int warmup = 3;         // untimed batches before each (backend, batch size)
  std::string reference;  // backend whose outputs the others are compared with
  // The int8 model's calibration data as --calibration flags ("[name=]FILE.npy"); empty: the run's
  // samples (bench/quantized_model.h).
  std::vector<std::string> calibration;
};

// Throws cpuinfer::Error for an impossible configuration (a batch size above the sample count) —
// call it before creating result files. Unknown backend names fail in make_backend.
void check_sweep(const Workload& workload, const SweepOptions& options);

// The backend order of a sweep: the reference first, then the others as given.
std::vector<std::string> sweep_order(const SweepOptions& options);

// Checks the configuration (check_sweep), then runs; failures of a backend become rows.
void run_sweep(const Workload& workload, const SweepOptions& options, ResultFiles& results, Progress& progress);

}  // namespace cpuinfer
