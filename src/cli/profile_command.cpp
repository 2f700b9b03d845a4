// `cpuinfer profile`: runs a model on the native engine with per-node timing and prints where the
// time goes, per operator type and for the slowest nodes.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bench/metrics.h"
#include "bench/onnx_model_workload.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "core/error.h"
#include "core/machine.h"
#include "engine/session.h"

namespace cpuinfer {

namespace {

struct ProfileArgs {
  std::string model;
  std::vector<std::string> shapes, inputs;
  int batch_size = 1;
  int iterations = 10;
  int warmup = 2;
  int threads = 0;
  std::size_t top = 20;
  std::string json;
  bool no_fusion = false, no_blocking = false, no_winograd = false, no_packing = false, bf16 = false, no_int8 = false;
};

// Opens `path` for writing (creating it if needed, truncating nothing) and closes it again; removes
// it if it was made here. So an unwritable --json fails before the profiling it would have saved.
void check_writable(const std::string& path) {
  std::error_code ec;
  const bool existed = std::filesystem::exists(path, ec);
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (!file) fail("--json {}: cannot write: {}", path, std::strerror(errno));
  std::fclose(file);
  if (!existed) std::filesystem::remove(path, ec);
}

// Time in all nodes so far, summed over the runs the profile has seen.
double node_ms(const engine::Profile& profile) {
  std::chrono::nanoseconds total{0};
  for (const engine::NodeTiming& n : profile.nodes) total += n.total;
  return std::chrono::duration<double, std::milli>(total).count();
}

int run_profile(ProfileArgs& a) {
  if (!a.json.empty()) check_writable(a.json);
  if (a.threads <= 0) a.threads = read_machine_info().usable_cores;
  ModelWorkloadOptions mo = model_options_from_flags(a.model, a.shapes, a.inputs);
  mo.samples = static_cast<std::size_t>(a.batch_size);
  const auto workload = make_onnx_model_workload(mo);
  if (static_cast<std::size_t>(a.batch_size) > workload->max_batch_size())
    fail("--batch-size {}: the model has no batch dimension left open", a.batch_size);
  const std::vector<Tensor> inputs = workload->batch(workload->plan(static_cast<std::size_t>(a.batch_size), "").front());

  const auto load_start = std::chrono::steady_clock::now();
  auto session = engine::load_onnx_session(
      a.model, {.threads = a.threads, .fuse = !a.no_fusion, .pack_tokens = !a.no_packing, .bf16 = a.bf16,
                .int8 = !a.no_int8, .blocked_layout = !a.no_blocking, .winograd = !a.no_winograd});
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();
  for (int i = 0; i < a.warmup; ++i) session->run(inputs);
  engine::Profile profile;
  // Per run: its wall time, and the time in its nodes (inside it, so never more).
  std::vector<double> wall_ms, in_nodes_ms;
  for (int i = 0; i < a.iterations; ++i) {
    const double nodes_before = node_ms(profile);
    const auto start = std::chrono::steady_clock::now();
    session->run(inputs, &profile);
    wall_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    in_nodes_ms.push_back(node_ms(profile) - nodes_before);
  }
  const engine::ProfileSummary s = engine::summarize_profile(profile);
  const double median = percentile(wall_ms, 0.5), median_in_nodes = percentile(in_nodes_ms, 0.5);

  std::string shapes;
  for (const auto& t : inputs) shapes += (shapes.empty() ? "" : ", ") + shape_string(t.shape());
  const engine::LoadReport& r = session->report();
  fmt::print("{}: {} nodes imported, {} folded at load, {} attention subgraphs fused, {} nodes fused into epilogues, {} in the blocked layout "
             "with {} reorders, {}{}{} run; load {:.0f} ms; ISA path {}\n",
             a.model, r.imported_nodes, r.folded_nodes, r.attention_nodes, r.fused_nodes, r.blocked_nodes, r.reorders,
             r.packed_tokens ? "batches packed to their real tokens, " : "",
             r.int8_nodes ? fmt::format("{} quantized patterns on int8 kernels, ", r.int8_nodes) : "", session->node_count(), load_ms, r.isa);
  // Like with like: the wall time and the time in nodes each as a median over the runs, and each as a mean.
  fmt::print("inputs {} (batch {}), {} threads, {} runs after {} warm-up: wall time per run median {:.2f} ms (mean "
             "{:.2f}); time in nodes per run median {:.2f} ms (mean {:.2f})\n",
             shapes, a.batch_size, a.threads, a.iterations, a.warmup, median, summarize(wall_ms).mean, median_in_nodes,
             s.node_ms_per_run);
  const engine::RunMemory::Stats memory = session->memory_stats();
  if (memory.planned_runs > 0)
    fmt::print("memory plan: {:.1f} MB arena, {} outputs in place per run\n\n",
               static_cast<double>(memory.last_plan_bytes) / (1 << 20), memory.last_in_place);
  else
    fmt::print("memory plan: recorded by the first run, used from the second\n\n");
  // Per op type and node: mean time per run, and its share of the time in nodes.
  fmt::print("{:<24} {:>6} {:>12} {:>7}\n", "op type", "nodes", "mean ms/run", "share");
  for (const auto& t : s.op_types)
    fmt::print("{:<24} {:>6} {:>12.3f} {:>6.1f}%\n", t.op_type, t.nodes, t.ms_per_run, 100 * t.share);
  fmt::print("\n{:<48} {:<20} {:>12} {:>7}\n", fmt::format("top {} nodes", std::min(a.top, s.nodes.size())), "op type",
             "mean ms/run", "share");
  for (std::size_t i = 0; i < std::min(a.top, s.nodes.size()); ++i) {
    const auto& n = s.nodes[i];
    std::string name = n.name.size() > 47 ? "…" + n.name.substr(n.name.size() - 46) : n.name;
    fmt::print("{:<48} {:<20} {:>12.3f} {:>6.1f}%\n", name, n.op_type, n.ms_per_run, 100 * n.share);
  }

  if (!a.json.empty()) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["batch_size"] = a.batch_size;
    j["threads"] = a.threads;
    j["iterations"] = a.iterations;
    j["warmup"] = a.warmup;
    j["load_ms"] = load_ms;
    j["run_ms"] = wall_ms;
    j["median_run_ms"] = median;
    j["mean_run_ms"] = summarize(wall_ms).mean;
    j["run_node_ms"] = in_nodes_ms;  // each run's time in nodes, beside run_ms
    j["median_node_ms"] = median_in_nodes;
    j["node_ms_per_run"] = s.node_ms_per_run;  // the mean
    j["arena_mb"] = static_cast<double>(memory.last_plan_bytes) / (1 << 20);
    j["outputs_in_place"] = memory.last_in_place;
    for (const auto& t : s.op_types)
      j["op_types"].push_back({{"op_type", t.op_type}, {"nodes", t.nodes}, {"ms_per_run", t.ms_per_run}, {"share", t.share}});
    for (const auto& n : s.nodes)
      j["nodes"].push_back({{"name", n.name}, {"op_type", n.op_type}, {"ms_per_run", n.ms_per_run}, {"share", n.share}});
    std::ofstream out(a.json);
    out << j.dump(2) << "\n";
    if (!out) fail("--json {}: cannot write: {}", a.json, std::strerror(errno));
  }
  return 0;
}

}  // namespace

void add_profile_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ProfileArgs>();
  auto* cmd = app.add_subcommand("profile", "Time every node of an ONNX model on the native engine");
  cmd->add_option("--model", args->model, "ONNX model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--shape", args->shapes, "An input's whole shape, input=1x3x224x224, or a symbolic dimension's size, "
                  "sequence=128 (repeatable)");
  cmd->add_option("--input", args->inputs, "An input's data from a .npy file, name=file.npy (repeatable)");
  cmd->add_option("--batch-size", args->batch_size, "Size of an open symbolic first dimension")
      ->check(whole_number(1, 65536))
      ->capture_default_str();
  cmd->add_option("--iterations", args->iterations, "Timed runs")->check(whole_number(1, 100000))->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Untimed runs first")->check(non_negative_integer())->capture_default_str();
  cmd->add_option("--threads", args->threads, "Intra-op threads; 0 = all usable cores")
      ->check(whole_number(0, 1024))
      ->capture_default_str();
  cmd->add_option("--top", args->top, "Slowest nodes to list")->capture_default_str();
  cmd->add_flag("--no-fusion", args->no_fusion, "Run every node on its own (to measure what fusion gains)");
  cmd->add_flag("--bf16", args->bf16, "Products in bfloat16, as backend native-bf16 (needs AVX512_BF16)");
  cmd->add_flag("--no-packing", args->no_packing, "Run padded batches as they are (what padding-free batches gain)");
  cmd->add_flag("--no-blocking", args->no_blocking, "Keep every activation in the plain layout (what blocking gains)");
  cmd->add_flag("--no-winograd", args->no_winograd, "Direct convolutions only (what Winograd gains)");
  cmd->add_flag("--no-int8", args->no_int8, "A quantized model's operators on the reference kernels (what the int8 kernels gain)");
  cmd->add_option("--json", args->json, "Also write the full profile (every node) to this JSON file");
  cmd->callback([args, &exit_code] { exit_code = run_profile(*args); });
}

}  // namespace cpuinfer
