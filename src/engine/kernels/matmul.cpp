// MatMul (numpy semantics, batch dimensions broadcast) and Gemm through oneDNN's matmul
// primitive, cached per operand shapes. A MatMul whose second operand is a matrix runs as one 2-D
// product over all rows of the first, the shape of every Linear layer; a constant such matrix is
// taken at load and reordered once into the layout oneDNN's primitive prefers (packed_weights.h).
// A product marked int8 (passes/dynamic_int8.h) multiplies uint8 rows by its int8 weights
// (int8_product.h).
#include <cstring>
#include <functional>
#include <map>
#include <unordered_map>
#include <optional>
#include <tuple>

#include "engine/kernels/epilogue.h"
#include "engine/kernels/int8_product.h"
#include "engine/kernels/matmul_primitive.h"
#include "engine/kernels/packed_weights.h"
#include "engine/passes/bf16_compute.h"
#include "engine/kernels/plan_cache.h"

namespace cpuinfer::engine {

namespace {

class MatMulKernel final : public Kernel {
 public:
  // Fused steps (passes/fusion.h): see run() for what oneDNN takes; the rest runs after the product.
  explicit MatMulKernel(const Node& node)
      : info_(node), epilogue_(node, kFirstOperand), bf16_(node.get_int(kBf16Attribute, 0) != 0),
        int8_scales_(node.has(kInt8ScalesAttribute) ? node.get_floats(kInt8ScalesAttribute) : std::vector<float>{}) {}

  // A constant float32 matrix as the second operand: packed once per layout, never read at run.
  bool prepack(std::size_t input, const Tensor& constant) override {
    if (input != 1 || constant.dtype() != DType::f32 || constant.rank() != 2) return false;
    weights_shape_ = constant.shape();
    if (!int8_scales_.empty()) {
      int8_ = int8_columns(constant, int8_scales_, info_);
      weights_.emplace(int8_->weights, constant.shape());
    } else {
      weights_.emplace(constant, constant.shape());
    }
    return true;
  }

  std::vector<Tensor> run(Inputs inputs) const override {
    const Tensor& a = info_.input(inputs, 0);
    const Tensor* b = weights_ ? nullptr : &info_.input(inputs, 1);
    if (a.dtype() != DType::f32 || (b && b->dtype() != DType::f32))
      info_.unsupported("element types {} and {}", dtype_name(a.dtype()), dtype_name(b ? b->dtype() : DType::f32));
    const Shape& b_shape = b ? b->shape() : weights_shape_;
    if (a.rank() == 0 || b_shape.empty()) info_.fail("MatMul of a scalar");
    // Promote vectors to matrices, as numpy does, and drop the added dimension afterwards.
    Shape sa = a.shape(), sb = b_shape;
    if (sa.size() == 1) sa.insert(sa.begin(), 1);
    if (sb.size() == 1) sb.push_back(1);
    const std::int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
    if (sb[sb.size() - 2] != k) info_.fail("shapes {} and {} cannot be multiplied", shape_string(a.shape()), shape_string(b_shape));
    Shape batch_a(sa.begin(), sa.end() - 2), batch_b(sb.begin(), sb.end() - 2);
    Shape out;
    Shape da, db, dc;
    if (batch_b.empty() || product(batch_b, 0, batch_b.size()) == 1) {
      // One 2-D product over every row of a.
      const std::int64_t rows = product(batch_a, 0, batch_a.size()) * m;
      da = {rows, k};
      db = {k, n};
      dc = {rows, n};
      out = plan_broadcast({batch_a, batch_b}, info_).shape;
    } else {
      const Shape batch = plan_broadcast({batch_a, batch_b}, info_).shape;
      while (batch_a.size() < batch.size()) batch_a.insert(batch_a.begin(), 1);
      while (batch_b.size() < batch.size()) batch_b.insert(batch_b.begin(), 1);
      if (batch.size() + 2 > DNNL_MAX_NDIMS) info_.unsupported("rank {}", batch.size() + 2);
      da = batch_a, db = batch_b, dc = batch;
      da.insert(da.end(), {m, k});
      db.insert(db.end(), {k, n});
      dc.insert(dc.end(), {m, n});
      out = batch;
    }
    if (a.rank() > 1) out.push_back(m);
    if (b_shape.size() > 1) out.push_back(n);
    Tensor y = allocate_checked(DType::f32, out, info_);
    // How much of the epilogue oneDNN takes: on the 2-D path a leading Add of N floats as the
    // bias; then activations, scales and Adds of an operand shaped as the output or of one value
    // per column as post-ops, up to the first other Add. An Add whose operand the memory plan gave
    // the output's place (Kernel::may_overwrite) is a sum into it when it comes first, else that
    // operand is copied out before the product overwrites it.
    const auto& steps = epilogue_.steps();
    const bool empty = y.numel() == 0 || k == 0;  // an empty sum: zeros, then the steps
    const Tensor* bias = nullptr;
    if (!empty && da.size() == 2 && !steps.empty() && steps[0].kind == Epilogue::Kind::add) {
      const Tensor& c = epilogue_.operand(inputs, 0, info_);
      if (c.dtype() == DType::f32 && c.rank() == 1 && c.dim(0) == n) bias = &c;
    }
    const std::size_t from = bias ? 1 : 0;
    std::optional<Tensor> saved;  // an Add's operand the output overwrites, unless that Add is a sum
    std::vector<const Tensor*> args(inputs.begin(), inputs.end());
    std::vector<Shape> key{da, db, out};  // with every Add's operand shape: they shape the post-ops
    bool sum_first = false;
    const bool int8 = int8_ && weights_;
    for (std::size_t step = 0, add = 0; step < steps.size(); ++step) {
      if (steps[step].kind != Epilogue::Kind::add) continue;
      const std::size_t index = add++;
      const Tensor& t = epilogue_.operand(inputs, index, info_);
      key.push_back(t.shape());
      if (t.data() != y.data()) continue;
      if (step == from && !empty && !int8) {  // an int8 product's row scale comes first
        sum_first = true;
      } else {
        saved = copy_of(t);
        args[kFirstOperand + index] = &*saved;
      }
    }
    // The bias read from where the operands are now: the memory plan may have given the output the
    // bias's block, which the product overwrites (the copy above took it out first; the graph
    // fuzzer: ReduceMean, Add, MatMul, Add of the ReduceMean was 0.18 off).
    if (bias) bias = &epilogue_.operand(args, 0, info_);
    if (empty) {
      std::fill_n(y.values<float>().data(), y.numel(), 0.0f);
      return {epilogue_.apply(std::move(y), 0, 0, args, info_)};
    }
    // bfloat16 compute (passes/bf16_compute.h): the rows rounded to bfloat16, after the output took
    // its block (the memory plan's in-place rule reads the first block as the output).
    const bool bf16 = bf16_ && weights_;
    std::optional<Tensor> rounded;
    if (bf16) rounded = rounded_to_bf16(a.reshaped(da), info_);
    const auto src_type = bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
    // int8 (int8_product.h): the rows quantized, the bias in the sums' domain, the row scale an operand.
    std::optional<Int8Rows> rows;
    std::optional<Tensor> int8_bias_values;
    if (int8) {
      rows = quantize_rows(a.reshaped(da), info_);
      int8_bias_values = int8_bias(*int8_, *rows, bias);
      bias = &*int8_bias_values;
    }
    key.push_back({bias ? 1 : 0, sum_first ? 1 : 0});
    // A product by constant weights of at least a small block's rows runs in row blocks
    // (matmul_primitive.h); fewer rows, a count that repeats (the batch), in one.
    const bool in_blocks = weights_ && da.size() == 2 && da[0] >= kSmallRowBlock;
    auto plan_for = [&](std::int64_t plan_rows) -> std::shared_ptr<Plan> {
      const Shape pa{plan_rows, k}, pc{plan_rows, n};
      std::vector<Shape> plan_key = key;
      if (in_blocks) {
        plan_key[0] = pa;
        plan_key[2] = pc;
        for (std::size_t i = 3; i + 1 < plan_key.size(); ++i)
          if (plan_key[i] == y.shape()) plan_key[i] = {-1};  // an operand shaped as the output: blocked with it
      }
      return plans_.get(plan_key, [&] {
        const Shape& da_p = in_blocks ? pa : da;
        const Shape& dc_p = in_blocks ? pc : dc;
        Plan p;
        p.post_ops = epilogue_.post_ops(from, from /* Adds before: the bias */, args, info_, [&](const Tensor& t) -> std::optional<dnnl::memory::desc> {
          if (t.shape() == y.shape()) return plain_desc(dc_p);  // laid out as the product
          if (t.rank() >= 1 && t.numel() == static_cast<std::size_t>(n) && t.dim(t.rank() - 1) == n && t.rank() <= y.rank()) {
            Shape per_column(dc_p.size(), 1);
            per_column.back() = n;
            return plain_desc(per_column);
          }
          return std::nullopt;
        }, sum_first, int8 ? int8_post_ops() : dnnl::post_ops());
        dnnl::primitive_attr attr;
        if (int8) attr = int8_attributes(*int8_, p.post_ops.ops);
        else attr.set_post_ops(p.post_ops.ops);
        try {
          const auto a_type = int8 ? dnnl::memory::data_type::u8 : src_type;
          const auto b_type = int8 ? dnnl::memory::data_type::s8 : src_type;
          const auto weights = weights_ ? dnnl::memory::desc(dnnl_dims(db), b_type, dnnl::memory::format_tag::any) : plain_desc(db);
          p.matmul = make_matmul(plain_desc(da_p, a_type), weights, bias ? plain_desc({1, n}) : dnnl::memory::desc(), plain_desc(dc_p), attr);
        } catch (const dnnl::error& e) {
          info_.fail("oneDNN refused the product of {} and {}: {}", shape_string(a.shape()), shape_string(b_shape), e.what());
        }
        return p;
      });
    };
    const Tensor& lhs = int8 ? rows->values : bf16 ? *rounded : a;
    float row_scale = rows ? rows->scale : 1.0f;
    // One execution over rows [first, first + count) of the product; `a_rows`, `y_rows` and the
    // output-shaped operands' rows at those places (a padded block's copies, or views).
    auto execute_rows = [&](Plan& plan, const void* a_rows, float* y_rows, const std::function<const float*(std::size_t)>& operand_rows) {
      const PackedWeights::Held weights = weights_ ? weights_->get(plan.matmul.b) : PackedWeights::Held{wrap(plan.matmul.b, *b), nullptr};
      std::unordered_map<int, dnnl::memory> run_args{
          {DNNL_ARG_SRC, dnnl::memory(plan.matmul.a, dnnl_engine(), const_cast<void*>(a_rows))},
          {DNNL_ARG_WEIGHTS, weights.memory},
          {DNNL_ARG_DST, dnnl::memory(plan.matmul.c, dnnl_engine(), y_rows)}};
      if (bias) run_args.emplace(DNNL_ARG_BIAS, wrap(plan.matmul.bias, *bias));
      if (int8) run_args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, row_scale_memory(row_scale));
      for (const Epilogue::BinaryOperand& o : plan.post_ops.operands) {
        const Tensor& t = epilogue_.operand(args, o.add_index, info_);
        const float* data = t.shape() == y.shape() ? operand_rows(o.add_index) : t.values<float>().data();
        run_args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(static_cast<int>(o.post_op)) | DNNL_ARG_SRC_1,
                         dnnl::memory(o.desc, dnnl_engine(), const_cast<float*>(data)));
      }
      execute(plan.matmul, std::move(run_args));
    };
    const std::size_t a_row_bytes = static_cast<std::size_t>(k) * dtype_size(lhs.dtype());
    auto a_at = [&](std::int64_t row) { return static_cast<const std::byte*>(lhs.data()) + static_cast<std::size_t>(row) * a_row_bytes; };
    auto operand_at = [&](std::int64_t row) {
      return [&, row](std::size_t add_index) { return epilogue_.operand(args, add_index, info_).values<float>().data() + row * n; };
    };
    float* y_data = y.values<float>().data();
    std::shared_ptr<Plan> last;  // kept while the primitive runs (plan_cache.h)
    if (!in_blocks) {
      last = plan_for(0);
      execute_rows(*last, lhs.data(), y_data, operand_at(0));
    } else {
      for_each_row_block(da[0], [&](std::int64_t block, std::int64_t row, std::int64_t count) {
        last = plan_for(block);
        if (count == block) return execute_rows(*last, a_at(row), y_data + row * n, operand_at(row));
        // The rest, padded to a block in copies.
        std::vector<std::byte> a_pad(static_cast<std::size_t>(block) * a_row_bytes);
        std::memcpy(a_pad.data(), a_at(row), static_cast<std::size_t>(count) * a_row_bytes);
        std::vector<float> y_pad(static_cast<std::size_t>(block * n));
        if (sum_first) std::copy_n(y_data + row * n, count * n, y_pad.begin());  // the sum's operand sits in the output
        std::map<std::size_t, std::vector<float>> operands_pad;
        for (const Epilogue::BinaryOperand& o : last->post_ops.operands) {
          const Tensor& t = epilogue_.operand(args, o.add_index, info_);
          if (t.shape() != y.shape()) continue;
          std::vector<float>& pad = operands_pad[o.add_index];
          pad.assign(static_cast<std::size_t>(block * n), 0.0f);
          std::copy_n(t.values<float>().data() + row * n, count * n, pad.begin());
        }
        execute_rows(*last, a_pad.data(), y_pad.data(), [&](std::size_t add_index) { return operands_pad.at(add_index).data(); });
        std::copy_n(y_pad.begin(), count * n, y_data + row * n);
      });
    }
    y = epilogue_.apply(std::move(y), last->post_ops.next_step, last->post_ops.adds_used, args, info_);
    return {std::move(y)};
  }

  bool may_overwrite(std::size_t input) const override { return input >= kFirstOperand; }

 private:
  static constexpr std::size_t kFirstOperand = 2;  // a, b, then the fused Adds' operands
  struct Plan {
    MatmulPlan matmul;
    Epilogue::PostOps post_ops;
  };

  static Tensor copy_of(const Tensor& t) {
    Tensor c = Tensor::uninitialized(t.dtype(), t.shape());
    std::memcpy(c.data(), t.data(), t.nbytes());
    return c;
  }

  NodeInfo info_;
  Epilogue epilogue_;
  mutable PlanCache<std::vector<Shape>, Plan> plans_{64};
  Shape weights_shape_;                   // of constant weights
  mutable std::optional<PackedWeights> weights_;  // constant weights, taken by prepack()
  bool bf16_;                             // bfloat16 inputs and constant weights, float32 accumulation
  std::vector<float> int8_scales_;        // an int8 product's weight scales (int8_product.h)
  std::optional<Int8Columns> int8_;       // its weights, taken by prepack()
};

// Y = alpha * A' B' + beta * C, A' = transA ? A^T : A. C (unidirectionally broadcast to M x N) is
// oneDNN's bias when alpha is 1; otherwise it is added afterwards.
class GemmKernel final : public Kernel {
 public:
  explicit GemmKernel(const Node& node)
      : info_(node), alpha_(node.get_float("alpha", 1.0f)), beta_(node.get_float("beta", 1.0f)),
        trans_a_(node.get_int("transA", 0) != 0), trans_b_(node.get_int("transB", 0) != 0) {}

  std::vector<Tensor> run(Inputs inputs) const override {
    const Tensor& a = info_.input(inputs, 0);
    const Tensor& b = info_.input(inputs, 1);
    const Tensor* c = info_.optional_input(inputs, 2);
    for (const Tensor* t : {&a, &b, c})
      if (t && t->dtype() != DType::f32) info_.unsupported("element type {}", dtype_name(t->dtype()));
    if (a.rank() != 2 || b.rank() != 2) info_.fail("A {} and B {} must be matrices", shape_string(a.shape()), shape_string(b.shape()));
    const std::int64_t m = trans_a_ ? a.dim(1) : a.dim(0), k = trans_a_ ? a.dim(0) : a.dim(1);
    const std::int64_t kb = trans_b_ ? b.dim(1) : b.dim(0), n = trans_b_ ? b.dim(0) : b.dim(1);
    if (k != kb) info_.fail("A {} and B {} cannot be multiplied (transA {}, transB {})", shape_string(a.shape()),
                            shape_string(b.shape()), trans_a_, trans_b_);
    Tensor y = allocate_checked(DType::f32, {m, n}, info_);
    // C as a bias of dims {M or 1, N or 1}, scaled by beta.
    std::optional<Tensor> bias;
    if (c && beta_ != 0.0f) {
      if (c->rank() > 2) info_.fail("C {} has more than two dimensions", shape_string(c->shape()));
      Shape cs = c->shape();
      while (cs.size() < 2) cs.insert(cs.begin(), 1);
      if ((cs[0] != 1 && cs[0] != m) || (cs[1] != 1 && cs[1] != n))
        info_.fail("C {} does not broadcast to {}x{}", shape_string(c->shape()), m, n);
      bias = c->reshaped(cs);
      if (beta_ != 1.0f) {
        Tensor scaled(DType::f32, cs);
        auto src = bias->values<float>();
        auto dst = scaled.values<float>();
        for (std::size_t i = 0; i < dst.size(); ++i) dst[i] = beta_ * src[i];
        bias = scaled;
      }
    }
    if (y.numel() == 0) return {std::move(y)};
    if (k == 0) std::fill_n(y.values<float>().data(), y.numel(), 0.0f);  // an empty sum
    const bool fused_bias = bias && alpha_ == 1.0f;
    if (k > 0) {
      const auto key = std::make_tuple(a.shape(), b.shape(), fused_bias ? bias->shape() : Shape{});
      const auto held = plans_.get(key, [&] {
        const auto da = dnnl::memory::desc({m, k}, dnnl::memory::data_type::f32, trans_a_ ? dnnl::memory::dims{1, m} : dnnl::memory::dims{k, 1});
        const auto db = dnnl::memory::desc({k, n}, dnnl::memory::data_type::f32, trans_b_ ? dnnl::memory::dims{1, k} : dnnl::memory::dims{n, 1});
        dnnl::primitive_attr attr;
        if (alpha_ != 1.0f) {
          dnnl::post_ops ops;
          ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, alpha_, 0.0f);
          attr.set_post_ops(ops);
        }
        try {
          return make_matmul(da, db, fused_bias ? plain_desc(bias->shape()) : dnnl::memory::desc(), plain_desc(y.shape()), attr);
        } catch (const dnnl::error& e) {
          info_.fail("oneDNN refused the product of {} and {}: {}", shape_string(a.shape()), shape_string(b.shape()), e.what());
        }
      });  // kept while the primitive runs (plan_cache.h)
      MatmulPlan& plan = *held;
      execute(plan, a, wrap(plan.b, b), fused_bias ? &*bias : nullptr, y);
    }
    if (bias && (!fused_bias || k == 0)) {
      float* out = y.values<float>().data();
      const float* src = bias->values<float>().data();
      const std::int64_t rs = bias->dim(0) == 1 ? 0 : bias->dim(1), cs = bias->dim(1) == 1 ? 0 : 1;
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) out[i * n + j] += src[i * rs + j * cs];
    }
    return {std::move(y)};
  }

 private:
  NodeInfo info_;
  float alpha_, beta_;
  bool trans_a_, trans_b_;
  mutable PlanCache<std::tuple<Shape, Shape, Shape>, MatmulPlan> plans_{64};
};

}  // namespace

void add_matmul_kernels(KernelTable& t) {
  auto matmul = [](const Node& node, std::int64_t) { return std::make_unique<MatMulKernel>(node); };
  t.add("MatMul", matmul, {}, {DType::f32});
  t.add(std::string(kEngineDomain) + ":FusedMatMul", matmul, {}, {DType::f32});
  t.add("Gemm", [](const Node& node, std::int64_t) { return std::make_unique<GemmKernel>(node); }, {}, {DType::f32});
}

}  // namespace cpuinfer::engine
