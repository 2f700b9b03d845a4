// kernels/vector: every ISA level this CPU has against plain formulas, on odd lengths (vector
// bodies and remainders), with the output over the input where the loops allow it.
#include "engine/kernels/vector/vector_loops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>

#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace cpuinfer::engine {
namespace {

float reference(VectorOp op, float v, float factor) {
  switch (op) {
    case VectorOp::identity: return v;
    case VectorOp::relu: return v > 0 ? v : 0;
    case VectorOp::scale: return v * factor;
    case VectorOp::gelu: return 0.5f * v * (1 + std::erf(v / std::sqrt(2.0f)));
    case VectorOp::erf: return std::erf(v);
    case VectorOp::tanh: return std::tanh(v);
    case VectorOp::exp: return std::exp(v);
    case VectorOp::log: return std::log(v);
    case VectorOp::sqrt: return std::sqrt(v);
    case VectorOp::sigmoid: return 1 / (1 + std::exp(-v));
  }
  return v;
}

std::vector<Isa> levels() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (isa <= cpu_isa()) out.push_back(isa);
  return out;
}

std::vector<float> random_values(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-3.0f, 3.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(VectorLoops, EveryLevelMapsAsThePlainFormulas) {
  const VectorOp ops[] = {VectorOp::identity, VectorOp::relu, VectorOp::scale, VectorOp::gelu, VectorOp::erf,
                          VectorOp::tanh, VectorOp::exp, VectorOp::log, VectorOp::sqrt, VectorOp::sigmoid};
  for (Isa isa : levels()) {
    const VectorLoops& loops = vector_loops(isa);
    EXPECT_EQ(loops.isa, isa);
    for (VectorOp op : ops)
      for (std::size_t n : {0, 1, 7, 16, 33, 67, 1000}) {
        SCOPED_TRACE(testing::Message() << isa_name(isa) << " op " << static_cast<int>(op) << " n " << n);
        std::vector<float> a = random_values(n, 1), b = random_values(n, 2);
        if (op == VectorOp::log || op == VectorOp::sqrt)  // positive arguments
          for (std::size_t i = 0; i < n; ++i) a[i] = std::fabs(a[i]) + 0.5f, b[i] = std::fabs(b[i]);
        auto expect = [&](float in) { return reference(op, in, 0.5f); };
        std::vector<float> out(n, NAN);
        loops.map(op, a.data(), out.data(), static_cast<std::int64_t>(n), 0.5f);
        for (std::size_t i = 0; i < n; ++i) ASSERT_NEAR(out[i], expect(a[i]), 1e-6f * (1 + std::fabs(expect(a[i])))) << i;
        std::vector<float> sum = a;  // in place, over the first operand
        loops.add_map(op, sum.data(), b.data(), sum.data(), static_cast<std::int64_t>(n), 0.5f);
        for (std::size_t i = 0; i < n; ++i) {
          const float want = expect(a[i] + b[i]);
          ASSERT_NEAR(sum[i], want, 1e-6f * (1 + std::fabs(want))) << i;
        }
      }
  }
}

TEST(VectorLoops, EveryLevelNormalisesRowsAsThePlainFormula) {
  for (Isa isa : levels()) {
    const VectorLoops& loops = vector_loops(isa);
    for (std::size_t n : {1, 5, 16, 31, 768}) {
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " n " << n);
      const std::vector<float> x = random_values(n, 3), gamma = random_values(n, 4), beta = random_values(n, 5);
      double mean = 0, var = 0;
      for (float v : x) mean += v;
      mean /= static_cast<double>(n);
      for (float v : x) var += (v - mean) * (v - mean);
      const double inv = 1 / std::sqrt(var / static_cast<double>(n) + 1e-5);
      std::vector<float> y(n, NAN);
      float got_mean = NAN, got_inv = NAN;
      loops.layer_norm_row(x.data(), gamma.data(), beta.data(), y.data(), static_cast<std::int64_t>(n), 1e-5f, &got_mean, &got_inv);
      EXPECT_NEAR(got_mean, mean, 1e-5);
      EXPECT_NEAR(got_inv, inv, 1e-4 * inv);
      for (std::size_t i = 0; i < n; ++i) ASSERT_NEAR(y[i], (x[i] - mean) * inv * gamma[i] + beta[i], 1e-4) << i;
      std::vector<float> z(n, NAN);
      loops.affine(x.data(), z.data(), static_cast<std::int64_t>(n), 1.5f, -0.25f);
      for (std::size_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(z[i], x[i] * 1.5f - 0.25f) << i;
    }
  }
}

TEST(VectorLoops, EveryLevelMultipliesARowByAMatrixAsThePlainSum) {
  for (Isa isa : levels()) {
    const VectorLoops& loops = vector_loops(isa);
    for (auto [depth, n, ld] : {std::tuple{1, 1, 1}, {7, 5, 9}, {64, 64, 64}, {128, 200, 512}, {0, 3, 3}}) {
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " depth " << depth << " n " << n << " ld " << ld);
      const std::vector<float> v = random_values(static_cast<std::size_t>(depth), 6),
                               m = random_values(static_cast<std::size_t>(std::max(depth, 1) * ld), 7);
      std::vector<float> acc = random_values(static_cast<std::size_t>(n), 8), want = acc;
      for (int j = 0; j < n; ++j) {
        double sum = want[static_cast<std::size_t>(j)];
        for (int k = 0; k < depth; ++k) sum += double(v[static_cast<std::size_t>(k)]) * m[static_cast<std::size_t>(k * ld + j)];
        want[static_cast<std::size_t>(j)] = static_cast<float>(sum);
      }
      loops.row_times_matrix(v.data(), depth, m.data(), ld, acc.data(), n);
      for (std::size_t j = 0; j < acc.size(); ++j) ASSERT_NEAR(acc[j], want[j], 1e-4f * (1 + std::abs(want[j]))) << j;
    }
  }
}

// Rounding to bfloat16 bit for bit as core's BFloat16 (to nearest even), ties, infinities, NaN,
// subnormals and the largest floats (which round to infinity) included.
TEST(VectorLoops, EveryLevelRoundsToBfloat16AsTheScalarConversion) {
  std::vector<float> in = random_values(1000, 9);
  for (std::uint32_t bits : {0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu, 0xff7fffffu, 0x00000001u, 0x80008000u, 0x7f800000u,
                             0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffffffffu, 0x00000000u, 0x80000000u})
    in.push_back(std::bit_cast<float>(bits));
  for (Isa isa : levels()) {
    std::vector<std::uint16_t> out(in.size());
    vector_loops(isa).to_bf16(in.data(), out.data(), static_cast<std::int64_t>(in.size()));
    for (std::size_t i = 0; i < in.size(); ++i)
      ASSERT_EQ(out[i], BFloat16(in[i]).bits) << isa_name(isa) << " " << std::bit_cast<std::uint32_t>(in[i]);
  }
}

// softmax_row against the plain formula in double; a NaN or an infinity makes the whole row NaN,
// as ONNX Runtime's Softmax does (it used to become a weight of exp(-80)).
TEST(VectorLoops, EveryLevelTakesSoftmaxAsThePlainFormulaAndKeepsNaN) {
  for (Isa isa : levels()) {
    for (std::int64_t n : {1, 7, 16, 33, 100}) {
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " n " << n);
      std::vector<float> x = random_values(static_cast<std::size_t>(n), 11), add = random_values(static_cast<std::size_t>(n), 12);
      std::vector<double> want(x.size());
      double top = -HUGE_VAL, sum = 0;
      for (std::size_t i = 0; i < x.size(); ++i) top = std::max(top, 0.5 * x[i] + add[i]);
      for (std::size_t i = 0; i < x.size(); ++i) sum += want[i] = std::exp(0.5 * x[i] + add[i] - top);
      vector_loops(isa).softmax_row(x.data(), add.data(), n, 0.5f);
      for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], want[i] / sum, 1e-6);
    }
    for (float bad : {std::nanf(""), HUGE_VALF}) {
      std::vector<float> x = random_values(19, 13);
      x[5] = bad;
      vector_loops(isa).softmax_row(x.data(), nullptr, 19, 1.0f);
      for (float v : x) EXPECT_TRUE(std::isnan(v)) << isa_name(isa) << " with " << bad;
    }
  }
}

// The int8 helpers: min_max skips NaN; quantize_u8 rounds x / scale half to even, saturates, and
// gives 0 for NaN (ONNX Runtime's QuantizeLinear); add_u8 as the plain requantized sum.
TEST(VectorLoops, EveryLevelQuantizesAsThePlainFormulas) {
  std::vector<float> in = random_values(101, 14);
  in[3] = std::nanf("");
  in[4] = 0.5f * 0.02f;  // a tie: rounds to 0 (even), then + zero
  in[5] = 1.5f * 0.02f;  // rounds to 2
  in[6] = 1e9f;
  in[7] = -1e9f;
  for (Isa isa : levels()) {
    SCOPED_TRACE(isa_name(isa));
    const VectorLoops& loops = vector_loops(isa);
    float lo = 0, hi = 0;
    loops.min_max(in.data(), static_cast<std::int64_t>(in.size()), &lo, &hi);
    EXPECT_EQ(lo, -1e9f);
    EXPECT_EQ(hi, 1e9f);
    std::vector<std::uint8_t> q(in.size());
    loops.quantize_u8(in.data(), q.data(), static_cast<std::int64_t>(in.size()), 0.02f, 100.0f);
    for (std::size_t i = 0; i < in.size(); ++i) {
      const float want = std::isnan(in[i]) ? 0.0f : std::clamp(std::nearbyint(in[i] / 0.02f) + 100.0f, 0.0f, 255.0f);
      EXPECT_EQ(q[i], static_cast<std::uint8_t>(want)) << "element " << i << " = " << in[i];
    }
    EXPECT_EQ(q[3], 0);
    EXPECT_EQ(q[4], 100);
    EXPECT_EQ(q[5], 102);
    std::vector<std::uint8_t> a(q), b(q.rbegin(), q.rend()), sum(q.size());
    loops.add_u8(a.data(), b.data(), sum.data(), static_cast<std::int64_t>(a.size()), 0.5f, 0.25f, 10.0f, 20.0f);
    for (std::size_t i = 0; i < a.size(); ++i)
      EXPECT_EQ(sum[i], static_cast<std::uint8_t>(std::clamp(std::nearbyint(a[i] * 0.5f + b[i] * 0.25f + 10.0f), 20.0f, 255.0f)));
  }
}

TEST(VectorLoops, ALevelTheCpuLacksIsRefused) {
  if (cpu_isa() == Isa::avx512) GTEST_SKIP() << "this CPU has every level";
  EXPECT_THROW(vector_loops(Isa::avx512), Error);
}

}  // namespace
}  // namespace cpuinfer::engine
