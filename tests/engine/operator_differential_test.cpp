// Differential operator tests, in the style of ggml's test-backend-ops and ncnn's test_layer:
// one-node (or one-fusion) models with seeded random shapes (odd sizes, broadcasting, size-1 and
// empty dimensions), run by the engine as it optimizes them (fusion, blocked layout, Winograd) and
// compared with plain loops written here, and fused against unfused. Every tensor a run allocates
// starts as NaN (SessionOptions::poison_storage), so an element a kernel forgets to write fails.
//
// CTest runs this program once per ISA level (CPUINFER_MAX_ISA=baseline, avx2, avx512); a level
// the CPU lacks is skipped with the reason. Tolerance: |got - want| <= 1e-4 * (1 + max |want|)
// for float32 (Winograd and blocked accumulation orders differ from the loops here).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>

#include "core/error.h"
#include "engine/isa.h"
#include "engine/onnx/import.h"
#include "engine/onnx_builder.h"
#include "engine/session.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

using test::OnnxBuilder;
constexpr int kFloat = onnx::TensorProto::FLOAT;

class OperatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* cap = std::getenv("CPUINFER_MAX_ISA");
    if (cap && *cap) {
      const auto wanted = parse_isa(cap);
      ASSERT_TRUE(wanted) << "CPUINFER_MAX_ISA=" << cap;
      const std::string missing = missing_for(*wanted);
      if (!missing.empty()) GTEST_SKIP() << "unsupported: this CPU lacks " << missing;
      ASSERT_EQ(engine::engine_isa(), *wanted);
    }
    std::printf("ISA path: %s\n", engine::engine_isa_description().c_str());
  }
  std::mt19937 rng_{20261128};

  std::int64_t pick(std::initializer_list<std::int64_t> choices) {
    return *(choices.begin() + std::uniform_int_distribution<std::size_t>(0, choices.size() - 1)(rng_));
  }
  std::int64_t between(std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_); }
  std::vector<float> values(std::size_t n, float scale = 1.0f) {
    std::uniform_real_distribution<float> u(-scale, scale);
    std::vector<float> v(n);
    for (float& x : v) x = u(rng_);
    return v;
  }
  Tensor tensor(const Shape& shape) {
    Tensor t(DType::f32, shape);
    const auto v = values(t.numel());
    std::copy(v.begin(), v.end(), t.values<float>().begin());
    return t;
  }
};

// Runs the model with the engine's optimizations and without, and checks both against `want`.
void expect_matches(const OnnxBuilder& b, const std::vector<Tensor>& inputs, const std::vector<Tensor>& want) {
  const engine::SessionOptions optimized{.threads = 2, .poison_storage = true};
  const engine::SessionOptions plain{.threads = 1, .fuse = false, .blocked_layout = false, .winograd = false, .poison_storage = true};
  for (const auto& options : {optimized, plain}) {
    SCOPED_TRACE(options.fuse ? "optimized" : "unfused, plain layout");
    engine::Session s(engine::import_onnx_bytes(b.bytes(), "m"), options);
    for (int run = 0; run < 3; ++run) {  // recorded, then from the memory plan (and kernel plans), twice
      const auto got = s.run(inputs);
      ASSERT_EQ(got.size(), want.size());
      for (std::size_t k = 0; k < got.size(); ++k) {
        ASSERT_EQ(got[k].shape(), want[k].shape()) << "output " << k;
        double scale = 1;
        for (float v : want[k].values<float>()) scale = std::max(scale, 1.0 + std::fabs(double(v)));
        EXPECT_LE(testing::max_abs_difference(got[k].values<float>(), want[k].values<float>()), 1e-4 * scale)
            << "output " << k << " " << shape_string(got[k].shape());
      }
    }
  }
}

// ---- reference loops ----

struct ConvCase {
  std::int64_t n, c, h, w, maps, k, stride, pad, dilation, group;
};

Shape conv_out(const ConvCase& p) {
  const std::int64_t extent = (p.k - 1) * p.dilation + 1;
  return {p.n, p.maps, (p.h + 2 * p.pad - extent) / p.stride + 1, (p.w + 2 * p.pad - extent) / p.stride + 1};
}

Tensor reference_conv(const ConvCase& p, const Tensor& x, const Tensor& w, const Tensor& bias) {
  const Shape os = conv_out(p);
  Tensor y(DType::f32, os);
  const auto X = x.values<float>(), W = w.values<float>(), B = bias.values<float>();
  auto Y = y.values<float>();
  const std::int64_t cg = p.c / p.group, mg = p.maps / p.group;
  for (std::int64_t n = 0; n < p.n; ++n)
    for (std::int64_t m = 0; m < p.maps; ++m)
      for (std::int64_t oy = 0; oy < os[2]; ++oy)
        for (std::int64_t ox = 0; ox < os[3]; ++ox) {
          double acc = B[static_cast<std::size_t>(m)];
          const std::int64_t g = m / mg;
          for (std::int64_t ci = 0; ci < cg; ++ci)
            for (std::int64_t ky = 0; ky < p.k; ++ky)
              for (std::int64_t kx = 0; kx < p.k; ++kx) {
                const std::int64_t iy = oy * p.stride - p.pad + ky * p.dilation, ix = ox * p.stride - p.pad + kx * p.dilation;
                if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
                acc += double(X[static_cast<std::size_t>(((n * p.c + g * cg + ci) * p.h + iy) * p.w + ix)]) *
                       W[static_cast<std::size_t>(((m * cg + ci) * p.k + ky) * p.k + kx)];
              }
          Y[static_cast<std::size_t>(((n * p.maps + m) * os[2] + oy) * os[3] + ox)] = static_cast<float>(acc);
        }
  return y;
}

// o = f(a + b), b broadcast (numpy rules) against a's shape, which is the result's.
Tensor reference_add(const Tensor& a, const Tensor& b, const std::function<float(float)>& f) {
  Tensor o(DType::f32, a.shape());
  const std::size_t r = a.rank();
  Shape bs(r - b.rank(), 1);
  bs.insert(bs.end(), b.shape().begin(), b.shape().end());
  const auto A = a.values<float>(), B = b.values<float>();
  auto O = o.values<float>();
  for (std::size_t i = 0; i < a.numel(); ++i) {
    std::size_t rest = i, bi = 0, bstride = 1;
    for (std::size_t d = r; d-- > 0;) {
      const auto idx = static_cast<std::int64_t>(rest % static_cast<std::size_t>(a.dim(d)));
      rest /= static_cast<std::size_t>(a.dim(d));
      if (bs[d] != 1) bi += static_cast<std::size_t>(idx) * bstride;
      bstride *= static_cast<std::size_t>(bs[d]);
    }
    O[i] = f(A[i] + B[bi]);
  }
  return o;
}

float relu(float v) { return v > 0 ? v : 0; }

// ---- convolutions ----

TEST_F(OperatorTest, ConvWithFusedStepsMatchesLoops) {
  for (int trial = 0; trial < 24; ++trial) {
    ConvCase p;
    p.n = pick({1, 2, 3});
    // Every 8th: atrous, dilated past the input so that some taps only ever read padding (DeepLab).
    const bool atrous = trial % 8 == 7;
    p.k = atrous ? 3 : pick({1, 3, 3, 5});
    p.dilation = atrous ? pick({6, 12, 24}) : p.k > 1 ? pick({1, 1, 2}) : 1;
    p.stride = pick({1, 1, 2});
    p.pad = atrous ? p.dilation : between(0, p.k / 2 * p.dilation);
    const bool depthwise = trial % 6 == 5;
    p.c = depthwise ? pick({8, 16, 24}) : pick({1, 3, 8, 16, 17, 32, 40});
    p.maps = depthwise ? p.c : pick({1, 8, 13, 16, 24, 33});
    p.group = depthwise ? p.c : 1;
    const std::int64_t extent = (p.k - 1) * p.dilation + 1;
    p.h = between(std::max<std::int64_t>(1, extent - 2 * p.pad), 13);
    p.w = between(std::max<std::int64_t>(1, extent - 2 * p.pad), 13);
    // none, Relu, per-channel Add + Relu, residual Add + Relu, Clip to [0, 6] (ReLU6), HardSwish,
    // x * Sigmoid(x) (SiLU)
    const int epilogue = trial % 7;
    SCOPED_TRACE(fmt::format("trial {}: N{} C{} {}x{} -> {} maps, k{} s{} p{} d{} g{}, epilogue {}", trial, p.n, p.c, p.h,
                             p.w, p.maps, p.k, p.stride, p.pad, p.dilation, p.group, epilogue));
    const Shape os = conv_out(p);
    OnnxBuilder b;
    b.input("x", kFloat, {"N", std::to_string(p.c), std::to_string(p.h), std::to_string(p.w)});
    const auto wv = values(static_cast<std::size_t>(p.maps * p.c / p.group * p.k * p.k), 1.0f / std::sqrt(float(p.c / p.group * p.k * p.k)));
    const auto bv = values(static_cast<std::size_t>(p.maps), 0.5f);
    const auto shift = values(static_cast<std::size_t>(p.maps), 0.5f);
    b.initializer("w", {p.maps, p.c / p.group, p.k, p.k}, wv);
    b.initializer("b", {p.maps}, bv);
    b.initializer("shift", {p.maps, 1, 1}, shift);
    auto& conv = b.node("Conv", {"x", "w", "b"}, {epilogue ? "c" : "y"});
    OnnxBuilder::attribute(conv, "pads", std::vector<std::int64_t>{p.pad, p.pad, p.pad, p.pad});
    OnnxBuilder::attribute(conv, "strides", std::vector<std::int64_t>{p.stride, p.stride});
    OnnxBuilder::attribute(conv, "dilations", std::vector<std::int64_t>{p.dilation, p.dilation});
    OnnxBuilder::attribute(conv, "group", p.group);
    std::vector<Tensor> inputs{tensor({p.n, p.c, p.h, p.w})};
    Tensor wt(DType::f32, {p.maps, p.c / p.group, p.k, p.k}), bt(DType::f32, {p.maps});
    std::copy(wv.begin(), wv.end(), wt.values<float>().begin());
    std::copy(bv.begin(), bv.end(), bt.values<float>().begin());
    Tensor want = reference_conv(p, inputs[0], wt, bt);
    if (epilogue == 1) {
      b.node("Relu", {"c"}, {"y"});
      for (float& v : want.values<float>()) v = relu(v);
    } else if (epilogue == 2) {
      b.node("Add", {"c", "shift"}, {"s"});
      b.node("Relu", {"s"}, {"y"});
      Tensor st(DType::f32, {p.maps, 1, 1});
      std::copy(shift.begin(), shift.end(), st.values<float>().begin());
      want = reference_add(want, st, relu);
    } else if (epilogue == 3) {
      b.input("residual", kFloat, {"N", std::to_string(os[1]), std::to_string(os[2]), std::to_string(os[3])});
      b.node("Add", {"residual", "c"}, {"s"});
      b.node("Relu", {"s"}, {"y"});
      inputs.push_back(tensor(os));
      want = reference_add(want, inputs[1], relu);
    } else if (epilogue == 4) {
      b.initializer("lo", {}, {0.0f});
      b.initializer("hi", {}, {6.0f});
      b.node("Clip", {"c", "lo", "hi"}, {"y"});
      for (float& v : want.values<float>()) v = std::min(6.0f, std::max(0.0f, v));
    } else if (epilogue == 5) {
      b.node("HardSwish", {"c"}, {"y"});
      for (float& v : want.values<float>()) v *= std::min(1.0f, std::max(0.0f, v / 6 + 0.5f));
    } else if (epilogue == 6) {
      b.node("Sigmoid", {"c"}, {"s"});
      b.node("Mul", {"s", "c"}, {"y"});
      for (float& v : want.values<float>()) v /= 1 + std::exp(-v);
    }
    b.output("y");
    expect_matches(b, inputs, {want});
  }
}

TEST_F(OperatorTest, ResidualBetweenTwoBlockedConvolutionsMatchesLoops) {
  // Both Add operands come from convolutions: in the blocked layout, a post-op on blocked data.
  for (int trial = 0; trial < 6; ++trial) {
    ConvCase p{pick({1, 2}), pick({16, 20, 32}), between(5, 12), between(5, 12), pick({8, 16, 24}), 3, 1, 1, 1, 1};
    SCOPED_TRACE(fmt::format("N{} C{} {}x{} maps {}", p.n, p.c, p.h, p.w, p.maps));
    OnnxBuilder b;
    b.input("x", kFloat, {"N", std::to_string(p.c), std::to_string(p.h), std::to_string(p.w)});
    const auto w1 = values(static_cast<std::size_t>(p.maps * p.c * 9), 0.1f), w2 = values(static_cast<std::size_t>(p.maps * p.c), 0.2f);
    const std::vector<float> zeros(static_cast<std::size_t>(p.maps), 0.0f);
    b.initializer("w1", {p.maps, p.c, 3, 3}, w1);
    b.initializer("w2", {p.maps, p.c, 1, 1}, w2);
    OnnxBuilder::attribute(b.node("Conv", {"x", "w1"}, {"a"}), "pads", std::vector<std::int64_t>{1, 1, 1, 1});
    b.node("Conv", {"x", "w2"}, {"c"});
    b.node("Add", {"c", "a"}, {"s"});
    b.node("Relu", {"s"}, {"y"});
    b.output("y");
    const Tensor x = tensor({p.n, p.c, p.h, p.w});
    Tensor t1(DType::f32, {p.maps, p.c, 3, 3}), t2(DType::f32, {p.maps, p.c, 1, 1}), zb(DType::f32, {p.maps});
    std::copy(w1.begin(), w1.end(), t1.values<float>().begin());
    std::copy(w2.begin(), w2.end(), t2.values<float>().begin());
    const Tensor a = reference_conv(p, x, t1, zb);
    ConvCase q = p;
    q.k = 1, q.pad = 0;
    expect_matches(b, {x}, {reference_add(reference_conv(q, x, t2, zb), a, relu)});
  }
}

// ---- pooling ----

TEST_F(OperatorTest, PoolingAfterABlockedConvolutionMatchesLoops) {
  for (int trial = 0; trial < 12; ++trial) {
    const bool max = trial % 2 == 0;
    ConvCase p{pick({1, 3}), pick({3, 16}), between(4, 12), between(4, 12), pick({5, 16, 19}), 1, 1, 0, 1, 1};
    const std::int64_t k = pick({2, 3}), stride = pick({1, 2}), pad = between(0, k / 2);
    SCOPED_TRACE(fmt::format("{}Pool N{} C{} {}x{} maps {} k{} s{} p{}", max ? "Max" : "Average", p.n, p.c, p.h, p.w, p.maps, k, stride, pad));
    OnnxBuilder b;
    b.input("x", kFloat, {"N", std::to_string(p.c), std::to_string(p.h), std::to_string(p.w)});
    const auto wv = values(static_cast<std::size_t>(p.maps * p.c), 0.5f);
    b.initializer("w", {p.maps, p.c, 1, 1}, wv);
    b.node("Conv", {"x", "w"}, {"c"});
    auto& pool = b.node(max ? "MaxPool" : "AveragePool", {"c"}, {"y"});
    OnnxBuilder::attribute(pool, "kernel_shape", std::vector<std::int64_t>{k, k});
    OnnxBuilder::attribute(pool, "strides", std::vector<std::int64_t>{stride, stride});
    OnnxBuilder::attribute(pool, "pads", std::vector<std::int64_t>{pad, pad, pad, pad});
    b.output("y");
    const Tensor x = tensor({p.n, p.c, p.h, p.w});
    Tensor wt(DType::f32, {p.maps, p.c, 1, 1}), zb(DType::f32, {p.maps});
    std::copy(wv.begin(), wv.end(), wt.values<float>().begin());
    const Tensor c = reference_conv(p, x, wt, zb);
    const std::int64_t oh = (p.h + 2 * pad - k) / stride + 1, ow = (p.w + 2 * pad - k) / stride + 1;
    Tensor want(DType::f32, {p.n, p.maps, oh, ow});
    const auto C = c.values<float>();
    auto Y = want.values<float>();
    for (std::int64_t i = 0; i < p.n * p.maps; ++i)
      for (std::int64_t oy = 0; oy < oh; ++oy)
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          float m = -INFINITY, sum = 0;
          int count = 0;
          for (std::int64_t ky = 0; ky < k; ++ky)
            for (std::int64_t kx = 0; kx < k; ++kx) {
              const std::int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
              if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
              const float v = C[static_cast<std::size_t>((i * p.h + iy) * p.w + ix)];
              m = std::max(m, v), sum += v, ++count;
            }
          Y[static_cast<std::size_t>((i * oh + oy) * ow + ox)] = max ? m : sum / static_cast<float>(count);
        }
    expect_matches(b, {x}, {want});
  }
}

// ---- products and element-wise ----

TEST_F(OperatorTest, MatMulWithBiasAndBroadcastMatchesLoops) {
  for (int trial = 0; trial < 16; ++trial) {
    const std::int64_t batch = pick({0, 1, 2, 3}), m = pick({1, 5, 17}), k = pick({0, 1, 7, 64}), n = pick({1, 3, 33});
    const bool bias = trial % 2 == 1;
    SCOPED_TRACE(fmt::format("[{},{},{}] x [{},{}]{}", batch, m, k, k, n, bias ? " + bias" : ""));
    OnnxBuilder b;
    b.input("x", kFloat, {"B", std::to_string(m), std::to_string(k)});
    const auto wv = values(static_cast<std::size_t>(k * n)), bv = values(static_cast<std::size_t>(n));
    b.initializer("w", {k, n}, wv);
    b.initializer("bias", {n}, bv);
    b.node("MatMul", {"x", "w"}, {bias ? "p" : "y"});
    if (bias) b.node("Add", {"p", "bias"}, {"y"});
    b.output("y");
    const Tensor x = tensor({batch, m, k});
    Tensor want(DType::f32, {batch, m, n});
    const auto X = x.values<float>();
    auto Y = want.values<float>();
    for (std::int64_t r = 0; r < batch * m; ++r)
      for (std::int64_t j = 0; j < n; ++j) {
        double acc = bias ? bv[static_cast<std::size_t>(j)] : 0.0;
        for (std::int64_t i = 0; i < k; ++i) acc += double(X[static_cast<std::size_t>(r * k + i)]) * wv[static_cast<std::size_t>(i * n + j)];
        Y[static_cast<std::size_t>(r * n + j)] = static_cast<float>(acc);
      }
    expect_matches(b, {x}, {want});
  }
}

TEST_F(OperatorTest, BroadcastAddReluMatchesLoops) {
  for (int trial = 0; trial < 16; ++trial) {
    const std::size_t rank = static_cast<std::size_t>(between(1, 4));
    Shape a, bshape;
    for (std::size_t d = 0; d < rank; ++d) a.push_back(pick({0, 1, 2, 5, 7}));
    for (std::size_t d = rank - static_cast<std::size_t>(between(1, static_cast<std::int64_t>(rank))); d < rank; ++d)
      bshape.push_back(trial % 4 == 0 || between(0, 2) == 0 ? 1 : a[d]);  // all ones at times, else mixed
    SCOPED_TRACE(fmt::format("{} + {}", shape_string(a), shape_string(bshape)));
    OnnxBuilder b;
    std::vector<std::string> da, db;
    for (auto d : a) da.push_back(std::to_string(d));
    for (auto d : bshape) db.push_back(std::to_string(d));
    b.input("a", kFloat, da);
    b.input("b", kFloat, db);
    b.node("Add", {"a", "b"}, {"s"});
    b.node("Relu", {"s"}, {"y"});
    b.output("y");
    const Tensor ta = tensor(a), tb = tensor(bshape);
    expect_matches(b, {ta, tb}, {reference_add(ta, tb, relu)});
  }
}

}  // namespace
}  // namespace cpuinfer
