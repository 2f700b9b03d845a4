// ONNX's per-operator tests (libonnx-testdata's node tests) as the fuzzer's graphs: every operator
// the engine has, in the tests' shapes and attributes, on inputs the tests never had. Each test's
// data inputs (floats that carry values, not the scales, sizes, bounds or boxes that set what an
// operator does) are redrawn in rounds:
//   0  the test's own values with NaN, +inf and -inf put in a few places (which of them depends on
//      the operator: specials_for in node_tests.cpp);
//   1  random values over the test's range, with NaN and infinities;
//   2  random values over the test's range.
// ONNX Runtime is the oracle, as for random graphs (graph_oracle.h): every native configuration,
// at the process's ISA level, must give ORT's outputs, NaN where ORT has NaN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "core/tensor.h"

namespace cpuinfer::fuzz {

struct NodeTestOptions {
  std::uint64_t seed = 1;
  int rounds = 3;      // of the three above, the first `rounds`
  std::string filter;  // only tests whose folder name holds this
  // Called with each mismatch's model and inputs (test name and round in `name`).
  std::function<void(const std::string& name, const onnx::ModelProto&, const std::vector<Tensor>&, const std::string& what)>
      on_mismatch;
};

struct NodeTestTally {
  std::size_t run = 0, mismatches = 0;  // rounds
  std::size_t tests = 0, skipped = 0;   // tests; skipped: the engine or ORT refuses the test as written
};

// Every test folder of `dir` (model.onnx, test_data_set_0/input_K.pb): one line per mismatch and
// per skipped test, a progress line on stderr.
NodeTestTally run_node_tests(const std::filesystem::path& dir, const NodeTestOptions& options);

}  // namespace cpuinfer::fuzz
