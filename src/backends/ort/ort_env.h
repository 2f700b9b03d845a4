// ONNX Runtime's environment, made once per process. ORT 1.30 allocates 14 bytes while it creates
// an environment and never frees them; under LeakSanitizer exactly the allocations of that call are
// left out of leak checking (its library is stripped, so no suppression by name can be narrower),
// and every other leak, ORT's included, is still reported.
#pragma once

#include <onnxruntime_cxx_api.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace cpuinfer {

inline Ort::Env make_ort_env(const char* log_id) {
#if defined(__SANITIZE_ADDRESS__)
  const __lsan::ScopedDisabler known_leak;
#endif
  return Ort::Env(ORT_LOGGING_LEVEL_ERROR, log_id);
}

}  // namespace cpuinfer
