// The differential graph fuzzer: random valid ONNX graphs (graph_generator.h), each run by ONNX
// Runtime and by the native engine in every configuration (graph_oracle.h); a disagreement beyond
// tolerance is shrunk (graph_shrinker.h) and, with --save, kept as a regression model.
//   cpuinfer_graph_fuzzer [--seconds 60] [--count N] [--seed 1] [--save DIR]
//   cpuinfer_graph_fuzzer --replay DIR     every saved regression, against ORT again
//   cpuinfer_graph_fuzzer --node-tests DIR [--rounds 3] [--filter TEXT]
//                                          ONNX's node tests on redrawn inputs, NaN and infinities among
//                                          them (node_tests.h)
// The ISA level is the process's (CPUINFER_MAX_ISA): scripts/fuzz.sh graphs runs one process per
// level the CPU has. The last line is "graphs: N run, M mismatches"; the exit status is 1 when M > 0.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdlib.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "core/cpu_features.h"
#include "core/error.h"
#include "engine/isa.h"
#include "engine/onnx/import.h"
#include "engine/onnx/tensor_proto.h"
#include "fuzz/graphs/graph_generator.h"
#include "fuzz/graphs/graph_oracle.h"
#include "fuzz/graphs/graph_shrinker.h"
#include "fuzz/graphs/node_tests.h"
#include "quantize/quantize_model.h"

namespace fs = std::filesystem;
using namespace cpuinfer;
using namespace cpuinfer::fuzz;

namespace {

struct Tally {
  std::size_t run = 0, mismatches = 0, invalid = 0, int8_run = 0, int8_skipped = 0;
  std::map<std::string, std::size_t> by_variant;
};

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
  if (!f) fail("cannot write {}", path.string());
}

std::string tensor_bytes(const Tensor& t) {
  onnx::TensorProto p;
  for (int type = 1; type <= onnx::TensorProto::DataType_MAX; ++type)
    if (engine::dtype_from_onnx(type) == t.dtype()) p.set_data_type(type);
  for (auto d : t.shape()) p.add_dims(d);
  p.set_raw_data(std::string(static_cast<const char*>(t.data()), t.nbytes()));
  return p.SerializeAsString();
}

// DIR/<name>/model.onnx, input_<k>.pb and finding.txt.
void save(const fs::path& dir, const std::string& name, const onnx::ModelProto& model, const std::vector<Tensor>& inputs,
          const std::string& description) {
  const fs::path folder = dir / name;
  fs::create_directories(folder);
  write_file(folder / "model.onnx", model.SerializeAsString());
  for (std::size_t k = 0; k < inputs.size(); ++k) write_file(folder / fmt::format("input_{}.pb", k), tensor_bytes(inputs[k]));
  write_file(folder / "finding.txt", description + "\n");
}

std::string node_list(const onnx::ModelProto& m) {
  std::string s;
  for (const auto& n : m.graph().node())
    if (n.op_type() != "Constant") s += (s.empty() ? "" : " ") + n.op_type();
  return s;
}

// int8 mode: an open-batch CNN quantized by cpuinfer's quantizer (static QDQ, calibrated on seeded
// inputs, the weight width this CPU's integer kernels multiply exactly), ONNX Runtime and the native
// engine on that same file, one native session at batch sizes 1, 3 and 2 in turn (a batch-size
// change must not break a session), and the reference kernels (no-int8) at batch 2.
struct Int8Result {
  bool invalid = false;    // ONNX Runtime refuses the float graph: the generator's fault (`why`)
  bool quantized = false;  // false: nothing to quantize (the quantizer's reason in `why`)
  std::string why;
  Finding finding;
  onnx::ModelProto model;
  std::vector<Tensor> inputs;  // of the failing run
};
Int8Result check_int8(const GeneratedGraph& g, std::uint64_t seed, const fs::path& scratch) {
  Int8Result r;
  const fs::path float_file = scratch / "float.onnx", int8_file = scratch / "int8.onnx";
  if (const RunResult f = run_ort(g.model, g.inputs); !f.error.empty()) {
    r.invalid = true;
    r.why = f.error;
    return r;
  }
  write_file(float_file, g.model.SerializeAsString());
  try {
    quant::QuantizeOptions options;
    options.mode = quant::QuantizeMode::static_qdq;
    options.weight_limit = engine::exact_int8_weight_limit();
    const quant::QuantizeReport report = quant::quantize_model(float_file, int8_file, {inputs_with_batch(g, 4, seed)}, options);
    if (report.quantized_nodes == 0) {
      r.why = "no node to quantize";
      return r;
    }
  } catch (const Error& e) {
    r.why = e.what();
    return r;
  }
  r.quantized = true;
  std::ifstream in(int8_file, std::ios::binary);
  if (!r.model.ParseFromIstream(&in)) fail("cannot read back {}", int8_file.string());
  const NativeVariant& all = native_variants().front();
  std::optional<engine::Session> session;
  for (std::int64_t batch : {1, 3, 2}) {
    r.inputs = inputs_with_batch(g, batch, seed + static_cast<std::uint64_t>(batch));
    const RunResult oracle = run_ort(r.model, r.inputs);
    if (!oracle.error.empty()) {  // the float graph ran: the quantizer wrote something invalid
      r.finding = {&all, fmt::format("batch {}: ONNX Runtime refuses the quantized graph: {}", batch, oracle.error), ""};
      return r;
    }
    RunResult native;
    try {
      if (!session) session.emplace(engine::import_onnx_bytes(r.model.SerializeAsString(), "fuzz graph"), all.options);
      native.outputs = session->run(r.inputs);
    } catch (const Error& e) {
      native.error = e.what();
    }
    std::optional<std::vector<double>> slack;
    Comparison c;
    if (disagrees(native, r.model, r.inputs, oracle, slack, c)) {
      r.finding = {&all, fmt::format("batch {} (after {}): {}", batch, batch == 1 ? "nothing" : "other batch sizes",
                                     native.error.empty() ? c.what : "native failed: " + native.error), ""};
      return r;
    }
    if (batch == 2) {
      const NativeVariant& reference = native_variants().back();  // no-int8: the reference kernels
      std::optional<std::vector<double>> s;
      if (disagrees(run_native(r.model, r.inputs, reference), r.model, r.inputs, oracle, s, c))
        r.finding = {&reference, c.what, ""};
    }
  }
  return r;
}

// The smallest graph that still fails with `variant` on `inputs` (a fresh session: a failure that
// needs a batch-size change keeps the whole graph).
onnx::ModelProto shrunk(const onnx::ModelProto& model, const std::vector<Tensor>& inputs, const NativeVariant& variant) {
  return shrink_graph(model, [&](const onnx::ModelProto& m) {
    const RunResult o = run_ort(m, inputs);
    if (!o.error.empty()) return false;
    std::optional<std::vector<double>> slack;
    Comparison c;
    return disagrees(run_native(m, inputs, variant), m, inputs, o, slack, c);
  });
}

int replay(const fs::path& dir) {
  if (!fs::is_directory(dir)) fail("--replay {}: not a folder", dir.string());
  Tally t;
  std::vector<fs::path> folders;
  for (const auto& e : fs::directory_iterator(dir))
    if (fs::exists(e.path() / "model.onnx")) folders.push_back(e.path());
  std::sort(folders.begin(), folders.end());
  for (const fs::path& f : folders) {
    onnx::ModelProto model;
    std::ifstream in(f / "model.onnx", std::ios::binary);
    if (!model.ParseFromIstream(&in)) fail("{}: not an ONNX model", (f / "model.onnx").string());
    std::vector<Tensor> inputs;
    for (int k = 0; fs::exists(f / fmt::format("input_{}.pb", k)); ++k)
      inputs.push_back(engine::read_tensor_file(f / fmt::format("input_{}.pb", k)));
    const RunResult oracle = run_ort(model, inputs);
    ++t.run;
    if (!oracle.error.empty()) fail("{}: ONNX Runtime refuses the regression model: {}", f.string(), oracle.error);
    const Finding finding = check(model, inputs, oracle);
    if (finding.variant) {
      ++t.mismatches;
      fmt::print("MISMATCH {} [{}]: {}\n  max_rel_diff: {}\n", f.filename().string(), finding.variant->name, finding.what,
                 finding.differences);
    } else {
      fmt::print("ok {}: {} (max_rel_diff: {})\n", f.filename().string(), node_list(model), finding.differences);
    }
  }
  fmt::print("graphs: {} run, {} mismatches\n", t.run, t.mismatches);
  return t.mismatches ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Differential graph fuzzer: random ONNX graphs, native against ONNX Runtime"};
  double seconds = 60;
  std::size_t count = 0;
  std::uint64_t seed = 1;
  std::string save_dir, replay_dir, node_tests_dir, filter;
  int rounds = 3;
  int min_nodes = 2, max_nodes = 12;
  std::size_t int8_every = 4;
  app.add_option("--seconds", seconds, "stop after this long (default 60)");
  app.add_option("--count", count, "stop after this many graphs (0: only --seconds)");
  app.add_option("--seed", seed, "the first graph's seed; graph i has seed + i (default 1)");
  app.add_option("--save", save_dir, "keep each mismatch, shrunk, as DIR/<seed>-<variant>/ (model.onnx, input_K.pb)");
  app.add_option("--replay", replay_dir, "run the regression models saved in DIR instead of fuzzing");
  app.add_option("--node-tests", node_tests_dir, "run ONNX's node tests in DIR (libonnx-testdata's data/node) on redrawn inputs instead of fuzzing");
  app.add_option("--rounds", rounds, "with --node-tests: input draws per test, 1 to 3 (the test's values with NaN and "
                 "infinities; random values with them; random values; default 3)")->check(CLI::Range(1, 3));
  app.add_option("--filter", filter, "with --node-tests: only tests whose name holds this");
  app.add_option("--min-nodes", min_nodes, "operators per graph, at least (default 2)");
  app.add_option("--max-nodes", max_nodes, "operators per graph, at most (default 12)");
  app.add_option("--int8-every", int8_every, "every N-th graph in int8 mode: quantized, ORT and native on the same file, "
                 "batch sizes changing in one session (default 4; 0: never)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (const char* cap = std::getenv("CPUINFER_MAX_ISA"); cap && *cap) {  // a level above the CPU's is not tested
      const auto wanted = parse_isa(cap);
      if (wanted && !missing_for(*wanted).empty()) {
        fmt::print("unsupported: this CPU lacks {} (CPUINFER_MAX_ISA={})\n", missing_for(*wanted), cap);
        return 0;
      }
    }
    fmt::print("ISA path: {}\n", engine::engine_isa_description());
    if (!replay_dir.empty()) return replay(replay_dir);
    if (!node_tests_dir.empty()) {
      NodeTestOptions o{seed, rounds, filter, {}};
      if (!save_dir.empty())
        o.on_mismatch = [&](const std::string& name, const onnx::ModelProto& m, const std::vector<Tensor>& in,
                            const std::string& what) { save(save_dir, name, m, in, what); };
      const NodeTestTally t = run_node_tests(node_tests_dir, o);
      fmt::print("{} node tests run, {} skipped (the engine or its inputs refuse them as written)\n", t.tests, t.skipped);
      fmt::print("graphs: {} run, {} mismatches\n", t.run, t.mismatches);
      return t.mismatches ? 1 : 0;
    }
    const auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    Tally t;
    double last_report = 0;
    std::string pattern = (fs::temp_directory_path() / "cpuinfer-graph-fuzz-XXXXXX").string();
    if (!mkdtemp(pattern.data())) fail("cannot create a temporary folder");
    const fs::path scratch = pattern;
    struct Remove {
      fs::path dir;
      ~Remove() {
        std::error_code ec;
        fs::remove_all(dir, ec);
      }
    } remove{scratch};
    for (std::uint64_t s = seed; elapsed() < seconds && (count == 0 || t.run < count); ++s) {
      if (int8_every > 0 && s % int8_every == 0) {
        const GeneratedGraph g = generate_graph(s, {min_nodes, max_nodes, true});
        const Int8Result r = check_int8(g, s, scratch);
        if (r.invalid) {
          ++t.invalid;
          fmt::print("invalid seed {} ({}): ONNX Runtime: {}\n", s, g.summary, r.why);
          continue;
        }
        if (!r.quantized) {
          ++t.int8_skipped;
          continue;
        }
        ++t.run;
        ++t.int8_run;
        if (r.finding.variant) {
          ++t.mismatches;
          ++t.by_variant["int8 " + r.finding.variant->name];
          fmt::print("MISMATCH seed {} [int8, {}] {}\n  {}\n", s, r.finding.variant->name, g.summary, r.finding.what);
          const onnx::ModelProto small = shrunk(r.model, r.inputs, *r.finding.variant);
          fmt::print("  shrunk to {} nodes: {}\n", small.graph().node_size(), node_list(small));
          if (!save_dir.empty()) {
            const std::string name = fmt::format("seed{}-int8", s);
            save(save_dir, name, small, r.inputs, fmt::format("seed {} [int8, {}] {}\n{}", s, r.finding.variant->name,
                                                              g.summary, r.finding.what));
            fmt::print("  saved as {}\n", (fs::path(save_dir) / name).string());
          }
        }
        continue;
      }
      const GeneratedGraph g = generate_graph(s, {min_nodes, max_nodes});
      const RunResult oracle = run_ort(g.model, g.inputs);
      if (!oracle.error.empty()) {  // the generator's fault: say so, and go on
        ++t.invalid;
        fmt::print("invalid seed {} ({}): ONNX Runtime: {}\n", s, g.summary, oracle.error);
        continue;
      }
      ++t.run;
      const Finding finding = check(g.model, g.inputs, oracle);
      if (finding.variant) {
        ++t.mismatches;
        ++t.by_variant[finding.variant->name];
        fmt::print("MISMATCH seed {} [{}] {}\n  {}\n  max_rel_diff: {}\n", s, finding.variant->name, g.summary, finding.what,
                   finding.differences);
        const NativeVariant& variant = *finding.variant;
        const onnx::ModelProto small = shrunk(g.model, g.inputs, variant);
        fmt::print("  shrunk to {} nodes: {}\n", small.graph().node_size(), node_list(small));
        if (!save_dir.empty()) {
          const std::string name = fmt::format("seed{}-{}", s, variant.name);
          save(save_dir, name, small, g.inputs, fmt::format("seed {} [{}] {}\n{}", s, variant.name, g.summary, finding.what));
          fmt::print("  saved as {}\n", (fs::path(save_dir) / name).string());
        }
      }
      if (elapsed() - last_report >= 10) {
        last_report = elapsed();
        fmt::print(stderr, "  {:.0f} s: {} graphs, {} mismatches\n", last_report, t.run, t.mismatches);
      }
    }
    if (t.invalid) fmt::print("{} graphs the generator got wrong (ONNX Runtime refused them) were skipped\n", t.invalid);
    fmt::print("{} of the graphs run in int8 mode ({} more had nothing to quantize)\n", t.int8_run, t.int8_skipped);
    for (const auto& [v, n] : t.by_variant) fmt::print("  {} mismatches with {}\n", n, v);
    fmt::print("graphs: {} run, {} mismatches\n", t.run, t.mismatches);
    return t.mismatches ? 1 : 0;
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  }
}
