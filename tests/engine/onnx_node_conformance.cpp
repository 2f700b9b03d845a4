// ONNX's own per-operator tests (Debian's libonnx-testdata) run on the engine.
//
//   onnx_node_conformance [--data DIR] [--filter TEXT] [--verbose] [--require-coverage]
//                         [--expect FILE] [--write-expect FILE]
//
// DIR is one of libonnx-testdata's suites: node (per-operator tests, the default), or the models
// of other exporters and older opsets: pytorch-converted, pytorch-operator, simple.
// Each test folder holds model.onnx and test_data_set_*/{input,output}_N.pb. A test whose model
// the engine refuses as unsupported (an operator, element type or attribute it lacks) is skipped
// with the reason; every other test must match the expected outputs: floats within
// |got - want| <= 1e-7 + 1e-3 * |want| (ONNX's backend-test defaults, NaN equals NaN), integers
// and booleans exactly, shapes and types exactly. Prints "N passed, M failed, K skipped" and the
// operators of the engine that no passing test covers (an operator counts where its kernel ran in
// a passing test, Session::operators_run, not where the model merely names it); exits 1 on any failure, and with
// --require-coverage also when an operator of the engine has no passing test. A test that
// mismatches in one data set and is refused in a later one fails.
//
// --expect FILE pins each test's outcome: one line per test, "<test> pass" or "<test> skip
// <reason>" (the reason without the node's name); any test whose outcome differs, a pass turned
// into a skip or a skip with another reason, fails. --write-expect FILE writes today's outcomes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "engine/onnx/import.h"
#include "engine/onnx/tensor_proto.h"
#include "engine/session.h"

namespace fs = std::filesystem;
using namespace cpuinfer;

namespace {

constexpr double kAtol = 1e-7, kRtol = 1e-3;

// "" when equal, else what differs.
std::string compare(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype()) return fmt::format("type {} instead of {}", dtype_name(got.dtype()), dtype_name(want.dtype()));
  if (got.shape() != want.shape()) return fmt::format("shape {} instead of {}", shape_string(got.shape()), shape_string(want.shape()));
  auto floats = [&](auto tag) -> std::string {
    using T = decltype(tag);
    auto g = got.values<T>();
    auto w = want.values<T>();
    for (std::size_t i = 0; i < g.size(); ++i) {
      const double a = g[i], b = w[i];
      if (std::isnan(a) && std::isnan(b)) continue;
      if (std::isinf(b) && a == b) continue;
      if (!(std::abs(a - b) <= kAtol + kRtol * std::abs(b)))
        return fmt::format("element {}: {} instead of {}", i, a, b);
    }
    return "";
  };
  // One unit in the last place: ONNX 1.12's data truncate float32 to bfloat16, where newer ONNX and
  // ONNX Runtime round to nearest even, as the engine does.
  auto halves = [&](double ulp) -> std::string {
    const Tensor g = cast(got, DType::f32), w = cast(want, DType::f32);
    for (std::size_t i = 0; i < g.numel(); ++i) {
      const double a = g.values<float>()[i], b = w.values<float>()[i];
      if ((std::isnan(a) && std::isnan(b)) || a == b) continue;
      if (!(std::abs(a - b) <= ulp * std::abs(b))) return fmt::format("element {}: {} instead of {}", i, a, b);
    }
    return "";
  };
  switch (got.dtype()) {
    case DType::f32: return floats(float{});
    case DType::f64: return floats(double{});
    case DType::f16:
    case DType::bf16: return halves(got.dtype() == DType::f16 ? 0x1p-10 : 0x1p-7);
    default:
      if (got.nbytes() && std::memcmp(got.data(), want.data(), got.nbytes()) != 0) return "values differ";
      return "";
  }
}

// ONNX 1.12's test data stores bfloat16 tensors as uint16 (the same bits): read them as declared.
Tensor as_declared(Tensor t, const std::vector<engine::TensorSpec>& specs, std::size_t index) {
  if (index >= specs.size() || specs[index].dtype != DType::bf16 || t.dtype() != DType::u16) return t;
  Tensor bf16 = Tensor::uninitialized(DType::bf16, t.shape());
  std::memcpy(bf16.data(), t.data(), t.nbytes());
  return bf16;
}

// Some of ONNX 1.12's test data contradict their model's declared input shapes (the CastLike
// tests to and from bfloat16 give 'like' one element for a declared 3x4): such a test is skipped.
std::string mismatched_test_data(const std::vector<Tensor>& inputs, const std::vector<engine::TensorSpec>& specs) {
  for (std::size_t i = 0; i < inputs.size() && i < specs.size(); ++i) {
    if (!specs[i].shape) continue;
    const auto& dims = *specs[i].shape;
    bool same = dims.size() == inputs[i].rank();
    for (std::size_t d = 0; same && d < dims.size(); ++d) same = !dims[d].is_static() || dims[d].value == inputs[i].dim(d);
    if (!same)
      return fmt::format("test data contradicts the model: input '{}' has shape {}, the model declares {}", specs[i].name,
                         shape_string(inputs[i].shape()), engine::dims_string(dims));
  }
  return "";
}

std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (std::size_t i = 0;; ++i) {
    fs::path f = dir / fmt::format("{}_{}.pb", prefix, i);
    if (!fs::exists(f)) break;
    files.push_back(f);
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path data = "/usr/share/libonnx-testdata/data/node";
  std::string filter;
  bool verbose = false, require_coverage = false;
  fs::path expect_file, write_expect_file;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) data = argv[++i];
    else if (arg == "--expect" && i + 1 < argc) expect_file = argv[++i];
    else if (arg == "--write-expect" && i + 1 < argc) write_expect_file = argv[++i];
    else if (arg == "--filter" && i + 1 < argc) filter = argv[++i];
    else if (arg == "--verbose") verbose = true;
    else if (arg == "--require-coverage") require_coverage = true;
    else {
      std::cerr << "usage: onnx_node_conformance [--data DIR] [--filter TEXT] [--verbose] [--require-coverage] "
                   "[--expect FILE] [--write-expect FILE]\n";
      return 2;
    }
  }
  if (!fs::is_directory(data)) {
    std::cerr << "error: no ONNX node tests at " << data << " (Debian package libonnx-testdata)\n";
    return 2;
  }
  std::vector<fs::path> tests;
  for (const auto& entry : fs::directory_iterator(data))
    if (entry.is_directory() && entry.path().filename().string().find(filter) != std::string::npos) tests.push_back(entry.path());
  std::sort(tests.begin(), tests.end());

  std::map<std::string, std::string> expected_outcomes, outcomes;  // test -> "pass" or "skip <reason>"
  if (!expect_file.empty()) {
    std::ifstream in(expect_file);
    if (!in) {
      std::cerr << "error: cannot read " << expect_file << "\n";
      return 2;
    }
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#') continue;
      const auto space = line.find(' ');
      if (space == std::string::npos) {
        std::cerr << "error: " << expect_file << ": malformed line: " << line << "\n";
        return 2;
      }
      expected_outcomes[line.substr(0, space)] = line.substr(space + 1);
    }
  }
  std::size_t passed = 0, failed = 0, skipped = 0;
  std::map<std::string, std::size_t> skip_reasons;
  std::map<std::string, std::size_t> covered;  // op -> passing tests
  for (const fs::path& test : tests) {
    const std::string name = test.filename().string();
    std::string outcome;
    bool skip = false;
    try {
      engine::Session session(engine::import_onnx_file(test / "model.onnx"), {2});
      std::size_t sets = 0;
      for (const auto& set : fs::directory_iterator(test)) {
        if (!set.is_directory() || !set.path().filename().string().starts_with("test_data_set_")) continue;
        ++sets;
        std::vector<Tensor> inputs, expected;
        for (const auto& f : numbered(set.path(), "input"))
          inputs.push_back(as_declared(engine::read_tensor_file(f), session.inputs(), inputs.size()));
        for (const auto& f : numbered(set.path(), "output"))
          expected.push_back(as_declared(engine::read_tensor_file(f), session.outputs(), expected.size()));
        if (const std::string bad = mismatched_test_data(inputs, session.inputs()); !bad.empty()) throw Unsupported(bad);
        const auto outputs = session.run(inputs);
        if (outputs.size() != expected.size())
          throw Error(fmt::format("{} outputs instead of {}", outputs.size(), expected.size()));
        for (std::size_t k = 0; k < outputs.size() && outcome.empty(); ++k) {
          const std::string diff = compare(outputs[k], expected[k]);
          if (!diff.empty()) outcome = fmt::format("{}: output {}: {}", set.path().filename().string(), k, diff);
        }
      }
      if (sets == 0) outcome = "no test data sets";
      if (outcome.empty())
        for (const auto& op : session.operators_run()) ++covered[op];
    } catch (const Unsupported& e) {
      skip = outcome.empty();  // refused after a mismatch in an earlier data set: a failure
      outcome = outcome.empty() ? std::string(e.what()) : fmt::format("{}; then refused: {}", outcome, e.what());
    } catch (const std::exception& e) {
      outcome = e.what();
    }
    if (skip) {
      ++skipped;
      // Group reasons by what is missing, without node names.
      std::string reason = outcome;
      if (auto p = reason.find("): "); p != std::string::npos) reason = reason.substr(p + 3);
      else if (auto q = reason.find("operator "); q != std::string::npos) reason = reason.substr(q);
      ++skip_reasons[reason];
      outcomes[name] = "skip " + reason;
      if (verbose) fmt::print("SKIP {}: {}\n", name, outcome);
    } else if (outcome.empty()) {
      ++passed;
      outcomes[name] = "pass";
      if (verbose) fmt::print("PASS {}\n", name);
    } else {
      outcomes[name] = "fail";
      ++failed;
      fmt::print("FAIL {}: {}\n", name, outcome);
    }
  }

  std::size_t changed = 0;
  if (!expect_file.empty()) {
    for (const auto& [name, outcome] : outcomes) {
      if (outcome == "fail") continue;  // already counted
      const auto it = expected_outcomes.find(name);
      const std::string want = it == expected_outcomes.end() ? "(not listed)" : it->second;
      if (want != outcome) {
        ++changed;
        fmt::print("CHANGED {}: expected {}, got {}\n", name, want, outcome);
      }
    }
    for (const auto& [name, want] : expected_outcomes)
      if (!outcomes.count(name) && filter.empty()) {
        ++changed;
        fmt::print("CHANGED {}: expected {}, but the test is gone\n", name, want);
      }
  }
  if (!write_expect_file.empty()) {
    std::ofstream out(write_expect_file);
    out << "# Expected outcome of each ONNX node test (onnx_node_conformance --write-expect); see the tool's header.\n";
    for (const auto& [name, outcome] : outcomes)
      if (outcome != "fail") out << name << " " << outcome << "\n";
    if (!out) {
      std::cerr << "error: cannot write " << write_expect_file << "\n";
      return 2;
    }
  }

  std::vector<std::pair<std::size_t, std::string>> reasons;
  for (const auto& [r, n] : skip_reasons) reasons.emplace_back(n, r);
  std::sort(reasons.rbegin(), reasons.rend());
  fmt::print("\nSkipped, by reason:\n");
  for (const auto& [n, r] : reasons) fmt::print("  {:4}  {}\n", n, r);

  // Every operator the engine has must be exercised by at least one passing test.
  // ONNX operators only: the engine's own (cpuinfer:FusedConv, ...) are what its passes make of them.
  std::vector<std::string> uncovered;
  std::size_t onnx_ops = 0;
  for (const std::string& op : engine::kernel_table().operators()) {
    if (op.starts_with(std::string(engine::kEngineDomain) + ":")) continue;
    ++onnx_ops;
    if (!covered.count(op)) uncovered.push_back(op);
  }
  fmt::print("\nOperators whose kernels ran in passing tests: {} of {}\n", onnx_ops - uncovered.size(), onnx_ops);
  if (!uncovered.empty() && filter.empty()) fmt::print("Not covered by any passing test: {}\n", fmt::join(uncovered, ", "));
  fmt::print("Tolerance: |got - want| <= {} + {} * |want| for floats; exact for integers and booleans\n", kAtol, kRtol);
  if (!expect_file.empty()) fmt::print("{} outcomes differ from {}\n", changed, expect_file.string());
  fmt::print("{} passed, {} failed, {} skipped\n", passed, failed, skipped);
  return failed > 0 || changed > 0 || (require_coverage && !uncovered.empty()) ? 1 : 0;
}
