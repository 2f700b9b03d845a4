// Fused attention and padding-free batches (passes/attention_fusion.h, passes/token_packing.h) on
// small BERT encoders built here as torch exports them: the Q/K/V head split through Shape
// arithmetic, the additive mask (1 - mask) * c, GELU as five nodes, LayerNormalization (opset 17)
// or its decomposition (opset 12), the pooler's Gather of token 0.
// Reference: the same model with every fusion off (each ONNX node on its own kernel). Tolerance:
// max |fused - reference| <= 1e-5 * max(1, max |reference|) (float32 sums in another order).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "engine/onnx/import.h"
#include "engine/onnx_builder.h"
#include "engine/tiny_bert.h"
#include "engine/passes/token_packing.h"
#include "engine/session.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

using test::Config;
using test::OnnxBuilder;
using test::TinyBert;
using test::hidden_states;
using test::right_padded;
using ::testing::HasSubstr;

engine::Session session(const Config& c, bool fuse, bool pack = true) {
  engine::SessionOptions o;
  o.threads = 2;
  o.fuse = fuse;
  o.pack_tokens = pack;
  return engine::Session(engine::import_onnx_bytes(TinyBert(c).bytes(), "tiny-bert"), o);
}

// Rows [first, first + count) of a [B, ...] tensor.
Tensor rows(const Tensor& t, std::int64_t first, std::int64_t count) {
  Shape s = t.shape();
  s[0] = count;
  Tensor r(t.dtype(), s);
  const std::size_t row = t.nbytes() / static_cast<std::size_t>(t.dim(0));
  std::memcpy(r.data(), static_cast<const std::byte*>(t.data()) + static_cast<std::size_t>(first) * row, static_cast<std::size_t>(count) * row);
  return r;
}

// The first `length` tokens of row b of [B, L, ...].
Tensor sequence(const Tensor& t, std::int64_t b, std::int64_t length) {
  Tensor whole = rows(t, b, 1);
  Shape s = whole.shape();
  const std::size_t token = whole.nbytes() / static_cast<std::size_t>(s[1]);
  s[1] = length;
  Tensor r(t.dtype(), s);
  std::memcpy(r.data(), whole.data(), static_cast<std::size_t>(length) * token);
  return r;
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  double scale = 1.0;
  for (float v : want.values<float>()) scale = std::max(scale, static_cast<double>(std::fabs(v)));
  EXPECT_LE(testing::max_abs_difference(got.values<float>(), want.values<float>()), 1e-5 * scale) << what;
}

TEST(AttentionFusion, EveryLayerFusesAndMatchesTheUnfusedModel) {
  for (std::int64_t opset : {12, 13, 17})
    for (auto [hidden, heads] : {std::pair{8, 1}, {16, 2}, {48, 4}, {64, 8}}) {
      const Config c{hidden, heads, 2, opset};
      engine::Session fused = session(c, true, false), plain = session(c, false);
      EXPECT_EQ(fused.report().attention_nodes, 2u) << c.label();
      EXPECT_FALSE(fused.report().packed_tokens) << c.label();
      const Tensor x = hidden_states(3, 7, hidden, 1), mask = right_padded({7, 2, 5}, 7);
      expect_close(fused.run(std::vector<Tensor>{x, mask})[0], plain.run(std::vector<Tensor>{x, mask})[0], c.label());
    }
}

// Mixed lengths, 1 and the maximum included: each row of the packed batch is what the sequence
// gives alone, unpadded, through the unfused model, and what the padded batch gives unfused.
TEST(TokenPacking, APackedBatchEqualsEachSequenceAlone) {
  for (std::int64_t opset : {12, 17}) {
    const Config c{32, 4, 2, opset};
    engine::Session packed = session(c, true), plain = session(c, false);
    EXPECT_TRUE(packed.report().packed_tokens) << c.label();
    const std::vector<std::int64_t> lengths{1, 9, 4, 9, 2};
    const Tensor x = hidden_states(5, 9, 32, 2), mask = right_padded(lengths, 9);
    const Tensor got = packed.run(std::vector<Tensor>{x, mask})[0];
    expect_close(got, plain.run(std::vector<Tensor>{x, mask})[0], c.label() + ", padded batch");
    for (std::int64_t b = 0; b < 5; ++b) {
      const std::int64_t n = lengths[static_cast<std::size_t>(b)];
      const Tensor alone = plain.run(std::vector<Tensor>{sequence(x, b, n), right_padded({n}, n)})[0];
      expect_close(rows(got, b, 1), alone, fmt::format("{}, sequence {} of length {}", c.label(), b, n));
    }
    // A batch without padding, and one of a single token.
    for (std::int64_t n : {9, 1}) {
      const Tensor xs = hidden_states(2, n, 32, 3), full = right_padded({n, n}, n);
      expect_close(packed.run(std::vector<Tensor>{xs, full})[0], plain.run(std::vector<Tensor>{xs, full})[0], c.label());
    }
  }
}

// Left padding, a mask with holes and a row masked entirely: the same outputs as the unfused model.
TEST(TokenPacking, MasksThatAreNotRightPaddingGiveTheUnfusedOutputs) {
  const Config c{16, 2, 2, 17};
  engine::Session packed = session(c, true), plain = session(c, false);
  Tensor mask(DType::i64, {3, 6});
  const std::vector<std::int64_t> values{0, 0, 1, 1, 1, 1,   // left padding
                                         1, 0, 1, 1, 0, 0,   // a hole
                                         0, 0, 0, 0, 0, 0};  // nothing to attend to
  std::ranges::copy(values, mask.values<std::int64_t>().begin());
  const Tensor x = hidden_states(3, 6, 16, 4);
  expect_close(packed.run(std::vector<Tensor>{x, mask})[0], plain.run(std::vector<Tensor>{x, mask})[0], "left padding, hole, empty");
  // Each row on its own: left padding keeps all 6 tokens, the hole packs to the last real token.
  expect_close(rows(packed.run(std::vector<Tensor>{x, mask})[0], 0, 2),
               plain.run(std::vector<Tensor>{rows(x, 0, 2), rows(mask, 0, 2)})[0], "left padding and a hole");
}

TEST(TokenPacking, LengthsComeFromTheKeysSomeQuerySees) {
  auto additive = [](Shape shape, const std::vector<float>& v) {
    Tensor t(DType::f32, std::move(shape));
    std::ranges::copy(v, t.values<float>().begin());
    return t;
  };
  const float hidden = -3.4e38f;
  using Lengths = std::optional<std::vector<std::int64_t>>;
  // [B, 1, 1, L]: right padding, a hole (packed to the last real key), left padding (all kept).
  EXPECT_EQ(engine::packed_lengths(additive({3, 1, 1, 4}, {0, 0, hidden, hidden, 0, hidden, 0, hidden, hidden, 0, 0, 0}), 3, 4),
            (Lengths{{2, 3, 4}}));
  // -1e4 (BERT's original constant) hides a key; -10 does not.
  EXPECT_EQ(engine::packed_lengths(additive({2, 1, 1, 3}, {0, -1e4f, -1e4f, 0, 0, -10}), 2, 3), (Lengths{{1, 3}}));
  // One mask for the whole batch, and a [B, 1, L, L] mask: a key any query sees counts.
  EXPECT_EQ(engine::packed_lengths(additive({1, 1, 1, 3}, {0, 0, hidden}), 2, 3), (Lengths{{2, 2}}));
  EXPECT_EQ(engine::packed_lengths(additive({1, 1, 2, 2}, {0, hidden, hidden, hidden}), 1, 2), (Lengths{{1}}));
  // A row with every key hidden, or a mask that does not vary over keys: no lengths.
  EXPECT_EQ(engine::packed_lengths(additive({2, 1, 1, 2}, {0, 0, hidden, hidden}), 2, 2), std::nullopt);
  EXPECT_EQ(engine::packed_lengths(additive({2, 1, 1, 1}, {0, 0}), 2, 3), std::nullopt);
}

// What keeps the region from being packed, or the attention from being fused: the model still runs,
// correctly.
TEST(TokenPacking, AnOutputOfThePaddedHiddenStatesKeepsThePaddedBatch) {
  Config c{16, 2, 2, 17};
  c.hidden_states_output = true;
  engine::Session fused = session(c, true), plain = session(c, false);
  EXPECT_EQ(fused.report().attention_nodes, 2u);
  EXPECT_FALSE(fused.report().packed_tokens);
  const Tensor x = hidden_states(2, 5, 16, 5), mask = right_padded({5, 3}, 5);
  const auto got = fused.run(std::vector<Tensor>{x, mask}), want = plain.run(std::vector<Tensor>{x, mask});
  expect_close(got[0], want[0], "pooled");
  expect_close(got[1], want[1], "hidden states, padding included");
}

// The same input shapes with fewer real tokens make smaller tensors: they take the memory plan's
// places (storage poisoned with NaN, so a place shared by mistake would show), and a batch with
// more tokens than the plan knows grows it once.
TEST(TokenPacking, FewerRealTokensRunFromTheBindingsMemoryPlan) {
  const Config c{16, 2, 2, 17};
  engine::SessionOptions o;
  o.poison_storage = true;
  engine::Session packed(engine::import_onnx_bytes(TinyBert(c).bytes(), "tiny-bert"), o);
  engine::Session plain = session(c, false);
  const Tensor x = hidden_states(3, 8, 16, 8);
  auto check = [&](const std::vector<std::int64_t>& lengths) {
    const Tensor mask = right_padded(lengths, 8);
    expect_close(packed.run(std::vector<Tensor>{x, mask})[0], plain.run(std::vector<Tensor>{x, mask})[0],
                 fmt::format("lengths {}", fmt::join(lengths, ", ")));
  };
  check({5, 2, 8});  // recorded
  check({3, 1, 8});  // fewer tokens: planned
  check({5, 2, 8});
  EXPECT_EQ(packed.memory_stats().recorded_runs, 1u);
  EXPECT_EQ(packed.memory_stats().planned_runs, 2u);
  check({8, 8, 8});  // more: strays, then recorded as large as both
  check({8, 8, 8});
  check({1, 1, 1});
  check({8, 7, 8});
  EXPECT_EQ(packed.memory_stats().recorded_runs, 2u);
  EXPECT_EQ(packed.memory_stats().planned_runs, 4u);
}

// Layer 0's query projection is also a graph output: its attention cannot be one node (the value
// would be gone), so it runs unfused, correctly; layer 1's still fuses, and packs from there.
TEST(AttentionFusion, APatternWithAValueReadOutsideRunsUnfused) {
  Config c{16, 2, 2, 17};
  c.extra_output = "l0_q";
  engine::Session fused = session(c, true), plain = session(c, false);
  EXPECT_EQ(fused.report().attention_nodes, 1u);
  EXPECT_TRUE(fused.report().packed_tokens);  // from layer 1's input, the first fused attention's
  const Tensor x = hidden_states(2, 5, 16, 7), mask = right_padded({5, 2}, 5);
  const auto got = fused.run(std::vector<Tensor>{x, mask}), want = plain.run(std::vector<Tensor>{x, mask});
  expect_close(got[0], want[0], "pooled");
  expect_close(got[1], want[1], "layer 0's queries");
}

// bfloat16 products (passes/bf16_compute.h) on the same encoders: every MatMul by weights and the
// attention projections marked; outputs within bfloat16's precision of the float32 reference
// (8 significant bits: 2e-2 of the largest output after two layers), and not identical to it.
TEST(TokenPacking, ABadMaskIsAnErrorNamingTheInput) {
  engine::Session s = session({16, 2, 1, 17}, true);
  const Tensor x = hidden_states(2, 5, 16, 6);
  auto error = [&](const Tensor& mask) {
    try {
      s.run(std::vector<Tensor>{x, mask});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string wrong_length = error(right_padded({4, 4}, 4));
  EXPECT_THAT(wrong_length, HasSubstr("attention_mask"));
  EXPECT_THAT(wrong_length, HasSubstr("sequence"));
  EXPECT_EQ(wrong_length.find('\n'), std::string::npos);
  const std::string wrong_type = error(Tensor(DType::f32, {2, 5}));
  EXPECT_THAT(wrong_type, HasSubstr("input 'attention_mask' must be int64, got float32"));
  EXPECT_THAT(error(Tensor(DType::i64, {2, 5, 1})), HasSubstr("input 'attention_mask' must have shape batch x sequence"));
}

}  // namespace
}  // namespace cpuinfer
