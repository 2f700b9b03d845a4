// The instruction-set level the engine runs at: the CPU's best level (core/cpu_features.h), capped
// by the environment variable CPUINFER_MAX_ISA=baseline|avx2|avx512. The cap applies to our own
// vector loops and to oneDNN (dnnl::set_max_cpu_isa) together, so that an AVX-512 machine tests
// every path. It is fixed for the process on first use: oneDNN cannot change its cap once it has
// generated code, so programs call engine_isa() before anything else runs.
#pragma once

#include <string>

#include "core/cpu_features.h"

namespace cpuinfer::engine {

// Throws cpuinfer::Error for an unknown CPUINFER_MAX_ISA value, or when oneDNN refuses the cap
// (it generated code before the first call).
Isa engine_isa();
// "avx512", or "avx2 (CPUINFER_MAX_ISA; the CPU has avx512)".
std::string engine_isa_description();
// Channels per block of the blocked activation layout (nChw16c on AVX-512, nChw8c below).
int channel_block();
// The largest |int8 weight| whose products oneDNN computes exactly at the engine's ISA. With
// AVX512_VNNI at the avx512 level, 127. Below, oneDNN multiplies uint8 by int8 with vpmaddubsw,
// which saturates each pair of products at int16: exact for weights within [-64, 64] (7 bits,
// ONNX Runtime's reduce_range), so 64.
int exact_int8_weight_limit();

}  // namespace cpuinfer::engine
