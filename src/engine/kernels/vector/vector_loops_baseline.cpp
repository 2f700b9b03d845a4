// The baseline level of vector_loops.h (compile flags in CMakeLists.txt).
#define VECTOR_LOOPS_ISA Isa::baseline
#define VECTOR_LOOPS_FUNCTION() VectorLoops vector_loops_baseline()
#include "engine/kernels/vector/vector_loops_impl.h"
