// What the CPU can execute, read once from CPUID (and XGETBV: the OS must save the vector
// registers), and the instruction-set levels cpuinfer compiles its own code for.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cpuinfer {

struct CpuFeatures {
  bool sse4_2 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512_vnni = false, avx512_bf16 = false, avx512_fp16 = false, avx_vnni = false;
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;

  // The names of the extensions present, in /proc/cpuinfo's spelling ("avx2", "avx512_vnni", ...).
  std::vector<std::string> names() const;
};

const CpuFeatures& cpu_features();

// Instruction-set levels, ordered: each includes the ones before it.
//   baseline  x86-64 (SSE2; oneDNN's kernels up to SSE4.1)
//   avx2      AVX2 + FMA
//   avx512    AVX-512 F, BW, DQ, VL (oneDNN's avx512_core, with VNNI and BF16 where present)
enum class Isa { baseline = 0, avx2 = 1, avx512 = 2 };

std::string_view isa_name(Isa isa);
std::optional<Isa> parse_isa(std::string_view name);
// The highest level this CPU supports.
Isa cpu_isa();
// "avx512 requires avx512f, avx512bw, avx512dq, avx512vl": what a level needs that this CPU lacks
// ("" when it has everything).
std::string missing_for(Isa isa);

}  // namespace cpuinfer
