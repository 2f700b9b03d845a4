// What ONNX Runtime's graph optimizer made of a model: how many nodes of each of ORT's own op types
// (its fused and contrib operators, FusedMatMul, BiasGelu, Attention, ...) the optimized graph holds,
// and how many nodes it has in all. Finding out takes a second session that writes its optimized
// model, so the benchmark counts in a child process (the hidden `cpuinfer ort-graph`) and caches the
// count beside the model: the timed session's load time and the benchmark's peak RSS are untouched.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "backends/ort/ort_backend.h"

namespace cpuinfer {

// The hidden subcommand the child runs: <cpuinfer> ort-graph --model M --level all|basic --threads N.
inline constexpr const char* kOrtGraphCommand = "ort-graph";
// The values of its --level: "all", "basic".
std::string ort_level_name(OrtLevel level);

// In this process: a session with the backend's options for `level` and `threads` writes its
// optimized model to a temporary folder, which is read and removed. Returns
//   {"fused_nodes": {"FusedMatMul": 12, "Attention": 0, "SkipLayerNormalization": 0, ...},
//    "optimized_nodes": 412}
// counting, subgraphs included, every node of domain com.microsoft by its op type and of
// com.microsoft.nchwc as "nchwc.<op type>"; Attention and SkipLayerNormalization are always there.
// Throws cpuinfer::Error (ORT's first error line, or the file that could not be read).
nlohmann::json count_ort_optimized_graph(const std::filesystem::path& model, OrtLevel level, int threads);

// Where ort_optimized_graph caches the count: ort-graph-<level>.json in the model's folder of
// derived files (core/paths.h).
std::filesystem::path ort_graph_cache_file(const std::filesystem::path& model, OrtLevel level);

// The same count, from the cache if it was made for this ORT version, level, CPU (ORT's blocked
// layout depends on its vector width) and model file size and modification time; otherwise from a
// child process `executable ort-graph ...` (the cpuinfer binary), whose count is then cached if the
// folder is writable. Never throws: on failure {"fused_nodes": "unknown: <one line>", "optimized_nodes": null}.
nlohmann::json ort_optimized_graph(const std::filesystem::path& model, OrtLevel level, int threads,
                                   const std::filesystem::path& executable);

}  // namespace cpuinfer
