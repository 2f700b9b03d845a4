// One session, many threads (engine/session.h): runs in their own RunContexts at the same time, at
// mixed batch sizes, image sizes and sequence lengths, give results bit-identical to the same runs
// made one after another. What the runs share, the kernels' plans and prepacked weights, changes
// under them: a new input shape makes a plan, evicts another, and a new batch size re-packs a
// convolution's Winograd weights. CI runs this test under ThreadSanitizer too (CPUINFER_SANITIZE=thread).
// One intra-op thread per run, as in serving (and OpenMP's own synchronisation is invisible to TSan).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "engine/onnx/import.h"
#include "engine/onnx_builder.h"
#include "engine/session.h"
#include "engine/tiny_bert.h"

namespace cpuinfer {
namespace {

using test::kFloat;
using test::OnnxBuilder;

// A small CNN of open batch and size: blocked 3x3 convolutions (Winograd where oneDNN offers it,
// re-packed per batch size), a residual Add, pooling, a Gemm.
std::string cnn() {
  OnnxBuilder b(13);
  b.input("x", kFloat, {"N", "8", "H", "W"});
  std::mt19937 random(3);
  std::normal_distribution<float> normal(0.0f, 0.2f);
  auto weights = [&](const std::string& name, std::vector<std::int64_t> dims) {
    std::int64_t n = 1;
    for (auto d : dims) n *= d;
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = normal(random);
    b.initializer(name, dims, v);
    return name;
  };
  auto conv = [&](const std::string& x, const std::string& w, const std::string& bias, const std::string& out) {
    auto& n = b.node("Conv", {x, w, bias}, {out});
    OnnxBuilder::attribute(n, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  };
  conv("x", weights("w1", {16, 8, 3, 3}), weights("b1", {16}), "c1");
  b.node("Relu", {"c1"}, {"r1"});
  conv("r1", weights("w2", {16, 16, 3, 3}), weights("b2", {16}), "c2");
  b.node("Add", {"c2", "r1"}, {"s"});
  b.node("Relu", {"s"}, {"r2"});
  auto& pool = b.node("MaxPool", {"r2"}, {"p"});
  OnnxBuilder::attribute(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
  OnnxBuilder::attribute(pool, "strides", std::vector<std::int64_t>{2, 2});
  b.node("GlobalAveragePool", {"p"}, {"g"});
  b.node("Flatten", {"g"}, {"f"});
  b.node("Gemm", {"f", weights("fc", {16, 10}), weights("fcb", {10})}, {"y"});
  b.output("y");
  return b.bytes();
}

Tensor random_tensor(const Shape& shape, unsigned seed) {
  Tensor t(DType::f32, shape);
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : t.values<float>()) v = normal(random);
  return t;
}

bool identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (a[k].shape() != b[k].shape() || a[k].dtype() != b[k].dtype() || std::memcmp(a[k].data(), b[k].data(), a[k].nbytes()) != 0)
      return false;
  return true;
}

// Each case once in order, serially, in a fresh session: the expected outputs. Then `threads`
// threads, each with its own context, run every case `rounds` times from different starting
// points, all at once on one other session.
void expect_concurrent_runs_equal_serial(const std::string& model, const std::vector<std::vector<Tensor>>& cases,
                                         int threads, int rounds) {
  engine::SessionOptions options;
  options.threads = 1;
  std::vector<std::vector<Tensor>> expected;
  {
    engine::Session serial(engine::import_onnx_bytes(model, "test model"), options);
    for (const auto& inputs : cases) expected.push_back(serial.run(inputs));
  }
  engine::Session shared(engine::import_onnx_bytes(model, "test model"), options);
  std::vector<int> mismatches(static_cast<std::size_t>(threads), 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      engine::RunContext context = shared.make_context();
      for (int r = 0; r < rounds; ++r)
        for (std::size_t i = 0; i < cases.size(); ++i) {
          const std::size_t k = (i + static_cast<std::size_t>(t) * 3 + static_cast<std::size_t>(r)) % cases.size();
          if (!identical(shared.run(context, cases[k]), expected[k])) ++mismatches[static_cast<std::size_t>(t)];
        }
    });
  for (auto& thread : pool) thread.join();
  for (int t = 0; t < threads; ++t) EXPECT_EQ(mismatches[static_cast<std::size_t>(t)], 0) << "thread " << t;
}

TEST(ConcurrentRuns, CnnAtMixedBatchSizesAndImageSizesEqualsSerialRuns) {
  std::vector<std::vector<Tensor>> cases;
  unsigned seed = 1;
  for (std::int64_t batch : {1, 3, 2})
    for (std::int64_t size : {16, 9, 12}) cases.push_back({random_tensor({batch, 8, size, size}, seed++)});
  expect_concurrent_runs_equal_serial(cnn(), cases, 4, 2);
}

TEST(ConcurrentRuns, BertAtMixedBatchSizesAndLengthsEqualsSerialRuns) {
  const test::Config config(32, 4, 2, 17);
  std::vector<std::vector<Tensor>> cases;
  unsigned seed = 1;
  for (const std::vector<std::int64_t>& lengths : std::vector<std::vector<std::int64_t>>{{7}, {5, 3}, {9, 9, 2}, {4, 1}}) {
    const std::int64_t longest = *std::max_element(lengths.begin(), lengths.end());
    cases.push_back({test::hidden_states(static_cast<std::int64_t>(lengths.size()), longest, config.hidden, seed++),
                     test::right_padded(lengths, longest)});
  }
  expect_concurrent_runs_equal_serial(test::TinyBert(config).bytes(), cases, 4, 2);
}

// run(inputs) without a context: the session's own, one run at a time, from any thread.
TEST(ConcurrentRuns, RunsInTheSessionsOwnContextTakeTurns) {
  engine::SessionOptions options;
  engine::Session session(engine::import_onnx_bytes(cnn(), "cnn"), options);
  const std::vector<Tensor> inputs{random_tensor({2, 8, 12, 12}, 5)};
  const std::vector<Tensor> expected = session.run(inputs);
  std::vector<int> mismatches(3, 0);
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < mismatches.size(); ++t)
    pool.emplace_back([&, t] {
      for (int r = 0; r < 4; ++r)
        if (!identical(session.run(inputs), expected)) ++mismatches[t];
    });
  for (auto& thread : pool) thread.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace cpuinfer
