// The avx512 level of vector_loops.h (compile flags in CMakeLists.txt).
#define VECTOR_LOOPS_ISA Isa::avx512
#define VECTOR_LOOPS_FUNCTION() VectorLoops vector_loops_avx512()
#include "engine/kernels/vector/vector_loops_impl.h"
