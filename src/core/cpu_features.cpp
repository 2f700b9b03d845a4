// CPUID leaves 1 and 7 (subleaves 0 and 1), checked against the register state the OS enables.
#include "core/cpu_features.h"

#include <cpuid.h>

#include <cstdint>

namespace cpuinfer {

namespace {

std::uint64_t xgetbv0() {
  std::uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (std::uint64_t{edx} << 32) | eax;
}

bool bit(std::uint32_t reg, int b) { return (reg >> b) & 1u; }

CpuFeatures read_features() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.sse4_2 = bit(c, 20);
  const bool osxsave = bit(c, 27);
  const std::uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool ymm = (xcr0 & 0x6) == 0x6;                 // SSE and AVX state
  const bool zmm = ymm && (xcr0 & 0xe0) == 0xe0;        // opmask, ZMM_Hi256, Hi16_ZMM
  const bool tiles = (xcr0 & 0x60000) == 0x60000;       // XTILECFG, XTILEDATA
  f.avx = ymm && bit(c, 28);
  f.fma = f.avx && bit(c, 12);
  f.f16c = f.avx && bit(c, 29);
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = f.avx && bit(b, 5);
  f.avx512f = zmm && bit(b, 16);
  f.avx512dq = f.avx512f && bit(b, 17);
  f.avx512bw = f.avx512f && bit(b, 30);
  f.avx512vl = f.avx512f && bit(b, 31);
  f.avx512_vnni = f.avx512f && bit(c, 11);
  f.avx512_fp16 = f.avx512f && bit(d, 23);
  f.amx_bf16 = tiles && bit(d, 22);
  f.amx_tile = tiles && bit(d, 24);
  f.amx_int8 = tiles && bit(d, 25);
  __cpuid_count(7, 1, a, b, c, d);
  f.avx_vnni = f.avx && bit(a, 4);
  f.avx512_bf16 = f.avx512f && bit(a, 5);
  return f;
}

}  // namespace

std::vector<std::string> CpuFeatures::names() const {
  std::vector<std::string> out;
  const std::pair<bool, const char*> all[] = {
      {sse4_2, "sse4_2"},           {avx, "avx"},           {avx2, "avx2"},           {fma, "fma"},
      {f16c, "f16c"},               {avx512f, "avx512f"},   {avx512bw, "avx512bw"},   {avx512dq, "avx512dq"},
      {avx512vl, "avx512vl"},       {avx512_vnni, "avx512_vnni"}, {avx512_bf16, "avx512_bf16"},
      {avx512_fp16, "avx512_fp16"}, {avx_vnni, "avx_vnni"}, {amx_tile, "amx_tile"}, {amx_bf16, "amx_bf16"},
      {amx_int8, "amx_int8"}};
  for (const auto& [present, name] : all)
    if (present) out.emplace_back(name);
  return out;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = read_features();
  return features;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::baseline: return "baseline";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

std::optional<Isa> parse_isa(std::string_view name) {
  for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (name == isa_name(isa)) return isa;
  return std::nullopt;
}

std::string missing_for(Isa isa) {
  const CpuFeatures& f = cpu_features();
  std::vector<std::pair<bool, const char*>> needs;
  if (isa >= Isa::avx2) needs.insert(needs.end(), {{f.avx2, "avx2"}, {f.fma, "fma"}});
  if (isa >= Isa::avx512)
    needs.insert(needs.end(), {{f.avx512f, "avx512f"}, {f.avx512bw, "avx512bw"}, {f.avx512dq, "avx512dq"}, {f.avx512vl, "avx512vl"}});
  std::string missing;
  for (const auto& [present, name] : needs)
    if (!present) missing += (missing.empty() ? "" : ", ") + std::string(name);
  return missing;
}

Isa cpu_isa() {
  if (missing_for(Isa::avx512).empty()) return Isa::avx512;
  if (missing_for(Isa::avx2).empty()) return Isa::avx2;
  return Isa::baseline;
}

}  // namespace cpuinfer
