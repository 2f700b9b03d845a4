// CPUINFER_MAX_ISA, read once, applied to oneDNN once.
#include "engine/isa.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstdlib>

#include "core/error.h"

namespace cpuinfer::engine {

namespace {

struct Level {
  Isa isa;
  bool capped;  // below the CPU's level
};

Level choose() {
  const Isa cpu = cpu_isa();
  const char* env = std::getenv("CPUINFER_MAX_ISA");
  if (!env || !*env) return {cpu, false};
  const auto cap = parse_isa(env);
  if (!cap) fail("CPUINFER_MAX_ISA='{}' is not one of baseline, avx2, avx512", env);
  if (*cap >= cpu) return {cpu, false};
  const dnnl::cpu_isa dnnl_cap = *cap == Isa::avx2 ? dnnl::cpu_isa::avx2 : dnnl::cpu_isa::sse41;
  try {
    dnnl::set_max_cpu_isa(dnnl_cap);
  } catch (const dnnl::error& e) {
    fail("CPUINFER_MAX_ISA={}: oneDNN refused the cap (it must be set before oneDNN generates code): {}", env, e.what());
  }
  return {*cap, true};
}

const Level& level() {
  static const Level l = choose();
  return l;
}

}  // namespace

Isa engine_isa() { return level().isa; }

std::string engine_isa_description() {
  const Level& l = level();
  std::string s(isa_name(l.isa));
  if (l.capped) s += fmt::format(" (CPUINFER_MAX_ISA; the CPU has {})", isa_name(cpu_isa()));
  return s;
}

int channel_block() { return engine_isa() == Isa::avx512 ? 16 : 8; }

int exact_int8_weight_limit() { return engine_isa() == Isa::avx512 && cpu_features().avx512_vnni ? 127 : 64; }

}  // namespace cpuinfer::engine
