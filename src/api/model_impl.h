// What a cpuinfer::Model holds: the engine's session, shared by every run, and the thread budget's
// slots (include/cpuinfer/options.h).
#pragma once

#include <cpuinfer/model.h>

#include <semaphore>

#include "api/api_types.h"
#include "core/error.h"
#include "engine/session.h"
#include "engine/threads.h"

namespace cpuinfer {

// Gives the calling thread back its OpenMP thread count when it goes out of scope: the engine sets
// the count for its own work (loading, a run), and the caller's later parallel regions are the caller's.
class CallerThreads {
 public:
  CallerThreads() : threads_(engine::max_threads()) {}
  ~CallerThreads() { engine::set_threads(threads_); }
  CallerThreads(const CallerThreads&) = delete;
  CallerThreads& operator=(const CallerThreads&) = delete;

 private:
  int threads_;
};

struct Model::Impl {
  Impl(const std::filesystem::path& file, const Options& options);

  Options options;
  int threads;  // per run
  engine::Session engine;
  std::vector<TensorInfo> inputs, outputs;
  std::counting_semaphore<> slots;  // runs at once: max(1, cores / threads)
};

}  // namespace cpuinfer
