// vector_loops: the table of the engine's ISA, chosen once.
#include "engine/kernels/vector/vector_loops.h"

#include "core/error.h"
#include "engine/isa.h"

namespace cpuinfer::engine {

const VectorLoops& vector_loops(Isa isa) {
  if (isa > cpu_isa()) fail("unsupported: this CPU lacks {}", missing_for(isa));
  // Each level's table is made only on a CPU that runs its code: the avx512 translation unit fills
  // even its table with AVX-512 stores (the graph fuzzer's first find on an AVX2-only EPYC: SIGILL
  // in vector_loops_avx512() when all three tables were made up front).
  switch (isa) {
    case Isa::baseline: {
      static const VectorLoops table = vector_loops_baseline();
      return table;
    }
    case Isa::avx2: {
      static const VectorLoops table = vector_loops_avx2();
      return table;
    }
    case Isa::avx512: break;
  }
  static const VectorLoops table = vector_loops_avx512();
  return table;
}

const VectorLoops& vector_loops() {
  static const VectorLoops& loops = vector_loops(engine_isa());
  return loops;
}

}  // namespace cpuinfer::engine
