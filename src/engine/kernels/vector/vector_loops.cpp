// vector_loops: the table of the engine's ISA, chosen once.
#include "engine/kernels/vector/vector_loops.h"

#include "core/error.h"
#include "engine/isa.h"

namespace cpuinfer::engine {

const VectorLoops& vector_loops(Isa isa) {
  static const VectorLoops tables[] = {vector_loops_baseline(), vector_loops_avx2(), vector_loops_avx512()};
  if (isa > cpu_isa()) fail("unsupported: this CPU lacks {}", missing_for(isa));
  return tables[static_cast<int>(isa)];
}

const VectorLoops& vector_loops() {
  static const VectorLoops& loops = vector_loops(engine_isa());
  return loops;
}

}  // namespace cpuinfer::engine
