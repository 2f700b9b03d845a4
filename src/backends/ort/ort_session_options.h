// How cpuinfer sets up ONNX Runtime: one environment, and the session options of a level and a
// thread count. The timed session and the child process that counts ORT's optimized graph
// (ort_optimized_graph.h) both take them from here, so that they optimize the graph alike.
#pragma once

#include <onnxruntime_cxx_api.h>

#include "backends/ort/ort_backend.h"

namespace cpuinfer {

Ort::Env& ort_env();

// T intra-op threads, one inter-op thread, sequential execution, the level's graph optimizations.
Ort::SessionOptions ort_session_options(OrtLevel level, int threads);

}  // namespace cpuinfer
