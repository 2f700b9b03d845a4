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
#include "engine/passes/bf16_compute.h"
#include "engine/passes/token_packing.h"
#include "engine/session.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

using test::OnnxBuilder;
using ::testing::HasSubstr;

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int kInt64 = onnx::TensorProto::INT64;

struct Config {
  Config(std::int64_t hidden_, std::int64_t heads_, std::int64_t layers_, std::int64_t opset_)
      : hidden(hidden_), heads(heads_), layers(layers_), opset(opset_) {}
  std::int64_t hidden, heads, layers, opset;
  float mask_value = -3.4028234663852886e+38f;  // torch.finfo(float32).min, as transformers >= 4.21
  bool hidden_states_output = false;            // also output the last hidden states (no packing then)
  std::string extra_output;                     // also output this value of the graph
  std::string label() const { return fmt::format("hidden {} heads {} layers {} opset {}", hidden, heads, layers, opset); }
};

// Builds the encoder node by node, as torch.onnx.export writes BertModel's layers.
class TinyBert {
 public:
  explicit TinyBert(const Config& c) : c_(c), b_(c.opset), random_(7) {
    b_.input("hidden_states", kFloat, {"batch", "sequence", std::to_string(c.hidden)});
    b_.input("attention_mask", kInt64, {"batch", "sequence"});
    mask();
    std::string x = "hidden_states";
    for (std::int64_t l = 0; l < c.layers; ++l) x = layer(x, fmt::format("l{}", l));
    b_.int_initializer("zero", {}, {0});
    auto& gather = b_.node("Gather", {x, "zero"}, {"first"});
    OnnxBuilder::attribute(gather, "axis", std::int64_t{1});
    b_.node("Tanh", {"first"}, {"pooled"});
    b_.output("pooled");
    if (c.hidden_states_output) b_.output(x);
    if (!c.extra_output.empty()) b_.output(c.extra_output);
  }
  std::string bytes() const { return b_.bytes(); }

 private:
  std::string constant(const std::string& name, const std::vector<std::int64_t>& dims, float scale, float offset = 0.0f) {
    std::int64_t n = 1;
    for (auto d : dims) n *= d;
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = offset + scale * normal(random_);
    b_.initializer(name, dims, v);
    return name;
  }
  std::string scalar(const std::string& name, float value) {
    b_.initializer(name, {}, {value});
    return name;
  }
  std::string ints(const std::string& name, const std::vector<std::int64_t>& values) {
    b_.int_initializer(name, {static_cast<std::int64_t>(values.size())}, values);
    return name;
  }
  std::string unsqueeze(const std::string& in, std::int64_t axis, const std::string& out) {
    if (c_.opset >= 13) {
      b_.node("Unsqueeze", {in, ints(out + "_axes", {axis})}, {out});
    } else {
      auto& n = b_.node("Unsqueeze", {in}, {out});
      OnnxBuilder::attribute(n, "axes", std::vector<std::int64_t>{axis});
    }
    return out;
  }
  // The value of dimension `axis` of `of` as a 1-element vector: Shape, Gather, Unsqueeze.
  std::string dim(const std::string& of, std::int64_t axis, const std::string& out) {
    b_.node("Shape", {of}, {out + "_shape"});
    b_.int_initializer(out + "_index", {}, {axis});
    auto& g = b_.node("Gather", {out + "_shape", out + "_index"}, {out + "_scalar"});
    OnnxBuilder::attribute(g, "axis", std::int64_t{0});
    return unsqueeze(out + "_scalar", 0, out);
  }

  // (1 - float(mask[:, None, None, :])) * c
  void mask() {
    unsqueeze("attention_mask", 1, "mask1");
    unsqueeze("mask1", 2, "mask2");
    auto& cast = b_.node("Cast", {"mask2"}, {"maskf"});
    OnnxBuilder::attribute(cast, "to", std::int64_t{kFloat});
    b_.node("Sub", {scalar("one", 1.0f), "maskf"}, {"inverted"});
    b_.node("Mul", {"inverted", scalar("mask_value", c_.mask_value)}, {"additive_mask"});
  }

  std::string linear(const std::string& x, const std::string& p, std::int64_t in, std::int64_t out) {
    b_.node("MatMul", {x, constant(p + "_w", {in, out}, 0.3f / std::sqrt(static_cast<float>(in)) * 2.0f)}, {p + "_mm"});
    b_.node("Add", {constant(p + "_b", {out}, 0.1f), p + "_mm"}, {p});
    return p;
  }

  // Reshape(projection, [B, L, heads, size]) then Transpose(perm).
  std::string split_heads(const std::string& projection, const std::vector<std::int64_t>& perm) {
    const std::int64_t size = c_.hidden / c_.heads;
    auto& concat = b_.node("Concat", {dim(projection, 0, projection + "_dim0"), dim(projection, 1, projection + "_dim1"),
                                      ints(projection + "_heads_count", {c_.heads}), ints(projection + "_head_size", {size})},
                           {projection + "_shape4"});
    OnnxBuilder::attribute(concat, "axis", std::int64_t{0});
    b_.node("Reshape", {projection, projection + "_shape4"}, {projection + "_4d"});
    auto& t = b_.node("Transpose", {projection + "_4d"}, {projection + "_heads"});
    OnnxBuilder::attribute(t, "perm", perm);
    return projection + "_heads";
  }

  std::string layer_norm(const std::string& x, const std::string& p) {
    const std::string gamma = constant(p + "_gamma", {c_.hidden}, 0.1f, 1.0f), beta = constant(p + "_beta", {c_.hidden}, 0.1f);
    if (c_.opset >= 17) {
      auto& n = b_.node("LayerNormalization", {x, gamma, beta}, {p});
      OnnxBuilder::attribute(n, "axis", std::int64_t{-1});
      return p;
    }
    // torch's decomposition before opset 17.
    auto& mean = b_.node("ReduceMean", {x}, {p + "_mean"});
    OnnxBuilder::attribute(mean, "axes", std::vector<std::int64_t>{-1});
    b_.node("Sub", {x, p + "_mean"}, {p + "_centered"});
    b_.node("Pow", {p + "_centered", scalar(p + "_two", 2.0f)}, {p + "_squares"});
    auto& var = b_.node("ReduceMean", {p + "_squares"}, {p + "_var"});
    OnnxBuilder::attribute(var, "axes", std::vector<std::int64_t>{-1});
    b_.node("Add", {p + "_var", scalar(p + "_eps", 1e-12f)}, {p + "_var_eps"});
    b_.node("Sqrt", {p + "_var_eps"}, {p + "_std"});
    b_.node("Div", {p + "_centered", p + "_std"}, {p + "_normed"});
    b_.node("Mul", {p + "_normed", gamma}, {p + "_scaled"});
    b_.node("Add", {p + "_scaled", beta}, {p});
    return p;
  }

  std::string layer(const std::string& x, const std::string& p) {
    const std::int64_t h = c_.hidden;
    const std::string q = split_heads(linear(x, p + "_q", h, h), {0, 2, 1, 3});
    const std::string k = split_heads(linear(x, p + "_k", h, h), {0, 2, 3, 1});
    const std::string v = split_heads(linear(x, p + "_v", h, h), {0, 2, 1, 3});
    b_.node("MatMul", {q, k}, {p + "_scores"});
    b_.node("Div", {p + "_scores", scalar(p + "_sqrt_size", std::sqrt(static_cast<float>(h / c_.heads)))}, {p + "_scaled"});
    b_.node("Add", {p + "_scaled", "additive_mask"}, {p + "_masked"});
    auto& softmax = b_.node("Softmax", {p + "_masked"}, {p + "_probs"});
    OnnxBuilder::attribute(softmax, "axis", std::int64_t{-1});
    b_.node("MatMul", {p + "_probs", v}, {p + "_context"});
    auto& merge = b_.node("Transpose", {p + "_context"}, {p + "_merged"});
    OnnxBuilder::attribute(merge, "perm", std::vector<std::int64_t>{0, 2, 1, 3});
    auto& concat = b_.node("Concat", {dim(p + "_merged", 0, p + "_mdim0"), dim(p + "_merged", 1, p + "_mdim1"), ints(p + "_minus1", {-1})},
                           {p + "_shape3"});
    OnnxBuilder::attribute(concat, "axis", std::int64_t{0});
    b_.node("Reshape", {p + "_merged", p + "_shape3"}, {p + "_attended"});
    b_.node("Add", {linear(p + "_attended", p + "_o", h, h), x}, {p + "_residual1"});
    const std::string ln1 = layer_norm(p + "_residual1", p + "_ln1");
    const std::string up = linear(ln1, p + "_up", h, 2 * h);
    b_.node("Div", {up, scalar(p + "_sqrt2", std::sqrt(2.0f))}, {p + "_gd"});
    b_.node("Erf", {p + "_gd"}, {p + "_ge"});
    b_.node("Add", {p + "_ge", scalar(p + "_g1", 1.0f)}, {p + "_ga"});
    b_.node("Mul", {up, p + "_ga"}, {p + "_gm"});
    b_.node("Mul", {p + "_gm", scalar(p + "_ghalf", 0.5f)}, {p + "_gelu"});
    b_.node("Add", {linear(p + "_gelu", p + "_down", 2 * h, h), ln1}, {p + "_residual2"});
    return layer_norm(p + "_residual2", p + "_ln2");
  }

  Config c_;
  OnnxBuilder b_;
  std::mt19937 random_;
};

engine::Session session(const Config& c, bool fuse, bool pack = true) {
  engine::SessionOptions o;
  o.threads = 2;
  o.fuse = fuse;
  o.pack_tokens = pack;
  return engine::Session(engine::import_onnx_bytes(TinyBert(c).bytes(), "tiny-bert"), o);
}

Tensor hidden_states(std::int64_t batch, std::int64_t length, std::int64_t hidden, unsigned seed) {
  Tensor t(DType::f32, {batch, length, hidden});
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : t.values<float>()) x = normal(random);
  return t;
}

// 1 for the first lengths[b] tokens of row b, 0 after (right padding).
Tensor right_padded(const std::vector<std::int64_t>& lengths, std::int64_t length) {
  Tensor m(DType::i64, {static_cast<std::int64_t>(lengths.size()), length});
  auto v = m.values<std::int64_t>();
  for (std::size_t b = 0; b < lengths.size(); ++b)
    for (std::int64_t t = 0; t < length; ++t) v[b * static_cast<std::size_t>(length) + static_cast<std::size_t>(t)] = t < lengths[b];
  return m;
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
TEST(Bf16Compute, ProductsInBfloat16AgreeToItsPrecision) {
  if (const std::string why = engine::bf16_unsupported_reason(); !why.empty()) GTEST_SKIP() << "unsupported: " << why;
  const Config c{32, 4, 2, 17};
  engine::SessionOptions o;
  o.threads = 2;
  o.bf16 = true;
  engine::Session bf16(engine::import_onnx_bytes(TinyBert(c).bytes(), "tiny-bert"), o);
  engine::Session plain = session(c, false);
  EXPECT_EQ(bf16.report().bf16_nodes, 2u * 4u);  // per layer: attention, output, up and down projections
  const Tensor x = hidden_states(3, 9, 32, 9), mask = right_padded({9, 4, 1}, 9);
  const Tensor got = bf16.run(std::vector<Tensor>{x, mask})[0], want = plain.run(std::vector<Tensor>{x, mask})[0];
  double scale = 1.0;
  for (float v : want.values<float>()) scale = std::max(scale, static_cast<double>(std::fabs(v)));
  const double diff = testing::max_abs_difference(got.values<float>(), want.values<float>());
  EXPECT_LE(diff, 2e-2 * scale);
  EXPECT_GT(diff, 0.0);  // bfloat16 really ran
}

TEST(Bf16Compute, ACpuWithoutAvx512Bf16SaysSo) {
  if (engine::bf16_unsupported_reason().empty()) GTEST_SKIP() << "this CPU has AVX512_BF16";
  engine::SessionOptions o;
  o.bf16 = true;
  try {
    engine::Session s(engine::import_onnx_bytes(TinyBert({16, 2, 1, 17}).bytes(), "tiny-bert"), o);
    ADD_FAILURE() << "a bf16 session loaded";
  } catch (const Unsupported& e) {
    EXPECT_THAT(e.what(), HasSubstr("AVX512_BF16"));
  }
}

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
