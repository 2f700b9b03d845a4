// The environment logs errors only; sessions run sequentially with the given intra-op threads.
#include "backends/ort/ort_session_options.h"

namespace cpuinfer {

Ort::Env& ort_env() {
  static Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "cpuinfer");
  return env;
}

Ort::SessionOptions ort_session_options(OrtLevel level, int threads) {
  Ort::SessionOptions so;
  so.SetIntraOpNumThreads(threads);
  so.SetInterOpNumThreads(1);
  so.SetExecutionMode(ExecutionMode::ORT_SEQUENTIAL);
  so.SetGraphOptimizationLevel(level == OrtLevel::all ? GraphOptimizationLevel::ORT_ENABLE_ALL
                                                      : GraphOptimizationLevel::ORT_ENABLE_BASIC);
  return so;
}

}  // namespace cpuinfer
