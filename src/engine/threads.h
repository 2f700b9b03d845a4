// The engine's threads: OpenMP, shared with oneDNN (Debian's build uses OpenMP too). Without
// OpenMP (the fuzzing build) everything runs on the calling thread.
#pragma once

#ifdef _OPENMP
#include <omp.h>
#endif

namespace cpuinfer::engine {

inline int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// For the calling thread's later parallel regions and oneDNN primitives.
inline void set_threads(int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads < 1 ? 1 : threads);
#else
  (void)threads;
#endif
}

}  // namespace cpuinfer::engine
