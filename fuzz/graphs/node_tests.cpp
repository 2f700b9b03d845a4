#include "fuzz/graphs/node_tests.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "core/error.h"
#include "engine/onnx/import.h"
#include "engine/onnx/tensor_proto.h"
#include "engine/session.h"
#include "fuzz/graphs/graph_oracle.h"

namespace fs = std::filesystem;

namespace cpuinfer::fuzz {

namespace {

// Operators whose inputs from this index on set what the operator does (scales and sizes, bounds,
// thresholds, boxes, ratios, quantization scales) and keep the test's values; 0: no input is
// redrawn (Range's bounds, OneHot's indices, which float values make ambiguous, the generators).
const std::map<std::string, int>& first_parameter() {
  static const std::map<std::string, int> m{
      {"Resize", 1},           {"Upsample", 1},      {"Clip", 1},         {"Pad", 1},
      {"Dropout", 1},          {"OneHot", 0},        {"RoiAlign", 1},     {"STFT", 1},
      {"QuantizeLinear", 1},   {"DequantizeLinear", 1}, {"BatchNormalization", 4},
      {"QLinearConv", 1},      {"QLinearMatMul", 1}, {"Range", 0},       {"NonMaxSuppression", 0},
      {"MelWeightMatrix", 0},
  };
  return m;
}

// Which special values an operator's data gets. ONNX leaves NaN in a comparison undefined, and
// ONNX Runtime's answers there come from how its vector loops happen to order operands (a max
// reduction keeps or drops a NaN by lane): such operators get infinities and no NaN. Others get no
// special value: recurrent cells (ORT's activations clamp their argument first, turning NaN into a
// finite value), GridSample (a NaN coordinate indexes nowhere), linear and cubic Resize (whether a
// tap of weight 0 multiplies an infinity, inf * 0 = NaN, is the implementation's), LRN (ORT slides
// its sum of squares along the channels, and inf - inf leaves NaN far beyond the window), DFT and
// STFT (the sign of inf * cos(pi / 2) is the rounding of the cosine's), and quantization with a
// scale computed from the data (a range over infinities has no scale; the engine refuses it).
enum class Specials { all, infinities, none };
Specials specials_for(const onnx::ModelProto& model) {
  static const std::set<std::string> no_nan{"MaxPool", "GlobalMaxPool", "ReduceMax", "ReduceMin", "ReduceLogSumExp",
                                            "Hardmax", "TopK", "Unique", "ArgMax", "ArgMin", "MaxRoiPool", "LpPool"};
  static const std::set<std::string> none{"RNN", "GRU", "LSTM", "GridSample", "Resize", "Upsample", "DynamicQuantizeLinear",
                                          "LRN", "DFT", "STFT"};
  std::set<std::string> constants;
  for (const auto& t : model.graph().initializer()) constants.insert(t.name());
  for (const auto& node : model.graph().node())
    if (node.op_type() == "Constant") constants.insert(node.output(0));
  Specials s = Specials::all;
  for (const auto& node : model.graph().node()) {
    if (none.count(node.op_type())) return Specials::none;
    if (node.op_type() == "QuantizeLinear" && node.input_size() > 1 && !constants.count(node.input(1)))
      return Specials::none;  // a scale computed from the data (DynamicQuantizeLinear's expansion)
    if (no_nan.count(node.op_type())) s = Specials::infinities;
  }
  return s;
}

// Graph inputs to redraw: floating-point, and no consumer takes them as a parameter.
std::vector<bool> data_inputs(const onnx::ModelProto& model, const std::vector<Tensor>& inputs) {
  std::vector<bool> data(inputs.size(), false);
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const DType t = inputs[k].dtype();
    if (t != DType::f32 && t != DType::f64 && t != DType::f16 && t != DType::bf16) continue;
    if (inputs[k].numel() == 0) continue;
    data[k] = true;
    const std::string& name = model.graph().input(static_cast<int>(k)).name();
    for (const auto& node : model.graph().node()) {
      const auto p = first_parameter().find(node.op_type());
      if (p == first_parameter().end()) continue;
      for (int slot = 0; slot < node.input_size(); ++slot)
        if (node.input(slot) == name && slot >= p->second) data[k] = false;
    }
  }
  return data;
}

// Round 0: the test's values; 1 and 2: uniform over the test's finite range (widened by 1 where it
// is one value). Rounds 0 and 1 put NaN, +inf or -inf in up to 3 places (in a one-value input, half
// the time).
Tensor redraw(const Tensor& original, int round, Specials specials, std::mt19937_64& rng) {
  Tensor values = cast(original, DType::f64);
  auto v = values.values<double>();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double x : v)
    if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  if (!(lo < hi)) {
    lo = std::isfinite(lo) ? lo - 1 : -1;
    hi = std::isfinite(hi) ? hi + 1 : 1;
  }
  if (round >= 1) {
    std::uniform_real_distribution<double> draw(lo, hi);
    for (double& x : v) x = draw(rng);
  }
  if (round <= 1 && specials != Specials::none && (v.size() > 1 || rng() % 2 == 0)) {
    const double values[] = {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN()};
    const std::size_t count = std::min<std::size_t>(3, v.size());
    for (std::size_t i = 0; i < count; ++i) v[rng() % v.size()] = values[rng() % (specials == Specials::all ? 3 : 2)];
  }
  return cast(values, original.dtype());
}

struct NodeTest {
  onnx::ModelProto model;
  std::vector<Tensor> inputs;
};

// The test's model and first data set; the reason it cannot run as a fuzzer graph otherwise.
std::string load(const fs::path& folder, NodeTest& test) {
  std::ifstream in(folder / "model.onnx", std::ios::binary);
  if (!test.model.ParseFromIstream(&in)) return "model.onnx is not an ONNX model";
  const fs::path data = folder / "test_data_set_0";
  for (int k = 0; k < test.model.graph().input_size(); ++k) {
    const fs::path file = data / fmt::format("input_{}.pb", k);
    if (!fs::exists(file)) return fmt::format("no {}", file.filename().string());
    try {
      test.inputs.push_back(engine::read_tensor_file(file));
    } catch (const Error& e) {
      return fmt::format("input {}: {}", k, e.what());  // sequences, optionals, strings
    }
  }
  // An oracle that departs from ONNX's own expected outputs on the test's own inputs is no oracle
  // for that test (ORT's Resize with align_corners when downsampling, MaxUnpool with output_shape).
  std::vector<Tensor> expected;
  for (int k = 0; k < test.model.graph().output_size(); ++k) {
    try {
      expected.push_back(engine::read_tensor_file(data / fmt::format("output_{}.pb", k)));
    } catch (const Error& e) {
      return fmt::format("output {}: {}", k, e.what());
    }
  }
  const RunResult ort = run_ort(test.model, test.inputs);
  if (!ort.error.empty()) return "ORT refuses it: " + ort.error;
  if (const Comparison c = compare_outputs(ort.outputs, expected, 1e-3); !c.agree)
    return "ORT departs from the test's expected outputs (" + c.what.substr(0, c.what.find(':')) + ")";
  try {  // the engine's own refusals (conformance pins them: onnx_node_expected.txt)
    engine::Session session(engine::import_onnx_bytes(test.model.SerializeAsString(), folder.filename().string()),
                            native_variants().front().options);
    session.run(test.inputs);
  } catch (const Error& e) {
    return fmt::format("native: {}", e.what());
  }
  return "";
}

}  // namespace

NodeTestTally run_node_tests(const fs::path& dir, const NodeTestOptions& options) {
  if (!fs::is_directory(dir)) fail("--node-tests {}: not a folder", dir.string());
  std::vector<fs::path> folders;
  for (const auto& e : fs::directory_iterator(dir))
    if (fs::exists(e.path() / "model.onnx") && e.path().filename().string().find(options.filter) != std::string::npos)
      folders.push_back(e.path());
  std::sort(folders.begin(), folders.end());
  NodeTestTally t;
  for (std::size_t i = 0; i < folders.size(); ++i) {
    const std::string name = folders[i].filename().string();
    if (i % 100 == 0) fmt::print(stderr, "  {} of {} node tests, {} mismatches\n", i, folders.size(), t.mismatches);
    NodeTest test;
    if (const std::string why = load(folders[i], test); !why.empty()) {
      ++t.skipped;
      fmt::print("skip {}: {}\n", name, why);
      continue;
    }
    ++t.tests;
    const std::vector<bool> data = data_inputs(test.model, test.inputs);
    if (std::find(data.begin(), data.end(), true) == data.end()) continue;  // nothing to redraw
    const Specials specials = specials_for(test.model);
    std::mt19937_64 rng(options.seed * 1000003 + std::hash<std::string>{}(name));
    for (int round = 0; round < options.rounds; ++round) {
      std::vector<Tensor> inputs = test.inputs;
      for (std::size_t k = 0; k < inputs.size(); ++k)
        if (data[k]) inputs[k] = redraw(test.inputs[k], round, specials, rng);
      const RunResult oracle = run_ort(test.model, inputs);
      if (!oracle.error.empty()) continue;  // ORT refuses these values (a NaN size): no oracle
      ++t.run;
      const Finding finding = check(test.model, inputs, oracle);
      if (!finding.variant) continue;
      ++t.mismatches;
      fmt::print("MISMATCH {} round {} [{}]: {}\n  max_rel_diff: {}\n", name, round, finding.variant->name, finding.what,
                 finding.differences);
      if (options.on_mismatch) options.on_mismatch(fmt::format("{}-round{}", name, round), test.model, inputs, finding.what);
    }
  }
  return t;
}

}  // namespace cpuinfer::fuzz
