// cpuinfer:Attention (passes/attention_fusion.h): multi-head self-attention in two steps.
//  1. One GEMM projects every token to its query, key and value: [rows, hidden] x [hidden, 3 * width]
//     plus bias, the three weight matrices side by side, packed once at load (packed_weights.h).
//  2. Per sequence and per block of 64 queries, for all heads at once (oneDNN batched matmuls over
//     strided views of the projection, no copies): scores = Q K^T, [heads, 64, length], at most
//     1.5 MB for 512 keys, so it stays in L2/L3 between its three passes; each row scaled, the
//     mask's row added, softmax taken in place (parallel over rows); then context = P V written
//     into each head's columns of the output.
// Sequences are the input's rows [batch, length] or, with the offsets input (passes/token_packing.h),
// the packed rows [1, tokens] cut at offsets[b]: each sequence attends over its own length only.
// The mask (additive, broadcast to [batch, heads, queries, keys]) is read in place, never expanded.
// first_query_only: only each sequence's first query, output [1, batch, width] (the last layer of
// a model that reads only the first token, passes/token_packing.h).
// bf16 (passes/bf16_compute.h): the projection takes bfloat16 and writes Q, K, V in bfloat16, and
// the head products multiply bfloat16 (Q K^T, and the probabilities, rounded after the float32
// softmax, by V) with float32 sums; the scores, softmax and context stay float32.
#include <algorithm>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "engine/kernels/matmul_primitive.h"
#include "engine/kernels/packed_weights.h"
#include "engine/kernels/plan_cache.h"
#include "engine/kernels/vector/vector_loops.h"
#include "engine/kernels/int8_product.h"
#include "engine/passes/bf16_compute.h"
#include "engine/passes/token_packing.h"

namespace cpuinfer::engine {

namespace {

constexpr std::int64_t kQueryBlock = 64;

class AttentionKernel final : public Kernel {
 public:
  enum Input : std::size_t { kInput = 0, kWeights = 1, kBias = 2, kMask = 3, kOffsets = 4 };

  explicit AttentionKernel(const Node& node)
      : info_(node), heads_(node.get_int("num_heads", 0)), scale_(node.get_float("scale", 1.0f)),
        first_query_only_(node.get_int(kFirstQueryOnly, 0) != 0), bf16_(node.get_int(kBf16Attribute, 0) != 0),
        int8_scales_(node.has(kInt8ScalesAttribute) ? node.get_floats(kInt8ScalesAttribute) : std::vector<float>{}),
        loops_(vector_loops()) {
    if (heads_ < 1) info_.fail("num_heads must be positive, got {}", heads_);
  }

  bool prepack(std::size_t input, const Tensor& constant) override {
    if (input != kWeights) return false;
    if (constant.dtype() != DType::f32 || constant.rank() != 2 || constant.dim(1) % (3 * heads_) != 0)
      info_.fail("weights {} are not [hidden, 3 x heads x head size] float", shape_string(constant.shape()));
    weights_shape_ = constant.shape();
    const std::int64_t width = weights_shape_[1] / 3;
    products_ = head_products(width / heads_, width);  // made here, read by every run
    if (!int8_scales_.empty()) {
      int8_ = int8_columns(constant, int8_scales_, info_);
      weights_.emplace(int8_->weights, constant.shape());
    } else {
      weights_.emplace(constant, constant.shape());
    }
    return true;
  }

  std::vector<Tensor> run(Inputs inputs) const override {
    if (!weights_) info_.fail("the weights must be a constant");
    const Tensor& x = info_.input(inputs, kInput);
    const Tensor& bias = info_.input(inputs, kBias);
    const Tensor* mask = info_.optional_input(inputs, kMask);
    const Tensor* offsets = info_.optional_input(inputs, kOffsets);
    const std::int64_t hidden = weights_shape_[0], width = weights_shape_[1] / 3, head_size = width / heads_;
    info_.expect_dtype(x, DType::f32, "the input");
    if (x.rank() != 3 || x.dim(2) != hidden)
      info_.fail("input {} is not [batch, sequence, {}]", shape_string(x.shape()), hidden);
    if (bias.dtype() != DType::f32 || bias.numel() != static_cast<std::size_t>(3 * width))
      info_.fail("bias {} is not {} floats", shape_string(bias.shape()), 3 * width);

    // Sequences: [begin, begin + length) over the rows.
    const std::int64_t rows = x.dim(0) * x.dim(1);
    std::vector<std::int64_t> begin;
    if (offsets) {
      begin = info_.ints(*offsets, "offsets");
      if (begin.size() < 2 || begin.front() != 0 || begin.back() != rows || !std::is_sorted(begin.begin(), begin.end()))
        info_.fail("offsets do not cut {} rows into sequences", rows);
    } else {
      for (std::int64_t b = 0; b <= x.dim(0); ++b) begin.push_back(b * x.dim(1));
    }
    const auto batch = static_cast<std::int64_t>(begin.size()) - 1;
    std::int64_t longest = 0;
    for (std::int64_t b = 0; b < batch; ++b) longest = std::max(longest, begin[b + 1] - begin[b]);
    const MaskView m = mask_view(mask, batch, longest, !offsets);

    if (first_query_only_ && !offsets) info_.fail("first_query_only needs the offsets of packed sequences");
    Tensor y = allocate_checked(DType::f32, first_query_only_ ? Shape{1, batch, width} : Shape{x.dim(0), x.dim(1), width}, info_);
    if (rows == 0) return one(std::move(y));
    const Tensor qkv = project(x.reshaped({rows, hidden}), bias.reshaped({1, 3 * width}));
    Tensor scores = allocate_checked(DType::f32, {heads_, std::min(kQueryBlock, longest), longest}, info_);
    // bf16: the probabilities rounded to bfloat16 for the context's product.
    std::optional<Tensor> probabilities;
    if (bf16_) probabilities = allocate_checked(DType::bf16, scores.shape(), info_);
    // Element offsets into the projection (float32, or bfloat16 in bf16), as oneDNN's non-const sources.
    auto* qkv_bytes = const_cast<std::byte*>(static_cast<const std::byte*>(qkv.data()));
    const std::size_t qkv_element = dtype_size(qkv.dtype());
    auto all = [&](std::int64_t offset) { return qkv_bytes + static_cast<std::size_t>(offset) * qkv_element; };
    float* out = y.values<float>().data();
    float* block = scores.values<float>().data();
    auto* product_block = probabilities ? static_cast<std::uint16_t*>(probabilities->data()) : nullptr;
    const std::int64_t ld = 3 * width;
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t first = begin[b], length = begin[b + 1] - first;
      const std::int64_t wanted = first_query_only_ ? 1 : length;  // queries whose context is wanted
      const std::int64_t out_row = first_query_only_ ? b : first;   // where the first one's goes
      for (std::int64_t q0 = 0; q0 < wanted; q0 += kQueryBlock) {
        const std::int64_t queries = std::min(kQueryBlock, wanted - q0);
        const HeadProducts& p = *products_;
        const HeadDescs d = head_descs(queries, length, head_size, width);
        // Every head's scores for this block of queries, then their softmax, then their context.
        execute(p.scores, memory(d.scores_a, all((first + q0) * ld)), memory(d.scores_b, all(first * ld + width)),
                memory(d.scores_c, block));
        const std::int64_t count = heads_ * queries;
#pragma omp parallel num_threads(std::max<int>(1, std::min<std::int64_t>(max_threads(), count)))
        {
          std::vector<float> addend(m.gathers() ? static_cast<std::size_t>(length) : 0);  // the mask's row, where strided
#pragma omp for schedule(static)
          for (std::int64_t i = 0; i < count; ++i) {
            const std::int64_t h = i / queries, q = i % queries;
            loops_.softmax_row(block + i * length, m.row(b, h, q0 + q, length, addend.data()), length, scale_);
            if (product_block) loops_.to_bf16(block + i * length, product_block + i * length, length);
          }
        }
        execute(p.context, product_block ? memory(d.context_a, product_block) : memory(d.context_a, block),
                memory(d.context_b, all(first * ld + 2 * width)), memory(d.context_c, out + (out_row + q0) * width));
      }
    }
    return one(std::move(y));
  }

 private:
  // The mask as strides over [batch, heads, queries, keys] (0 where it broadcasts).
  struct MaskView {
    const float* data = nullptr;
    std::int64_t stride[4] = {0, 0, 0, 0};
    // The mask's values for one query over `length` keys: the data itself when its keys are
    // contiguous, else gathered into `scratch`; null without a mask.
    bool gathers() const { return data && stride[3] != 1; }
    const float* row(std::int64_t b, std::int64_t h, std::int64_t q, std::int64_t length, float* scratch) const {
      if (!data) return nullptr;
      const float* p = data + b * stride[0] + h * stride[1] + q * stride[2];
      if (stride[3] == 1) return p;
      for (std::int64_t k = 0; k < length; ++k) scratch[k] = p[k * stride[3]];
      return scratch;
    }
  };

  // `exact`: the rows are [batch, sequence] as given, so the mask must broadcast to them exactly
  // (numpy's rule); packed sequences need each dimension that does not broadcast to cover the longest.
  MaskView mask_view(const Tensor* mask, std::int64_t batch, std::int64_t longest, bool exact) const {
    MaskView view;
    if (!mask) return view;
    info_.expect_dtype(*mask, DType::f32, "the mask");
    if (mask->rank() > 4) info_.fail("mask {} has more than 4 dimensions", shape_string(mask->shape()));
    Shape dims = mask->shape();
    while (dims.size() < 4) dims.insert(dims.begin(), 1);
    const std::int64_t want[4] = {batch, heads_, longest, longest};
    const std::vector<std::int64_t> strides = contiguous_strides(dims);
    for (std::size_t d = 0; d < 4; ++d) {
      const bool fits = exact ? dims[d] == want[d] : (d < 2 ? dims[d] == want[d] : dims[d] >= want[d]);
      if (dims[d] != 1 && !fits)
        info_.fail("mask {} does not broadcast to the scores [{}, {}, {}, {}]", shape_string(mask->shape()), batch, heads_,
                   longest, longest);
      view.stride[d] = dims[d] == 1 ? 0 : strides[d];
    }
    view.data = mask->values<float>().data();
    return view;
  }

  // For one block of queries of one sequence, over every head (batch dimension): the scores
  // [heads, queries, length] = Q [heads, queries, size] x K^T [heads, size, length], and the context
  // [heads, queries, size] = P x V [heads, length, size], Q, K and V read in place from the
  // projection's rows, the context written in place into the output's. The primitives take the
  // query count and the length at run time (oneDNN's runtime dimensions, as fast here as fixed
  // ones): one pair serves every block and sequence length, where each new length used to make 24
  // primitives, and each new last block's query count 24 more.
  struct HeadProducts {
    MatmulPlan scores, context;
  };
  struct HeadDescs {
    dnnl::memory::desc scores_a, scores_b, scores_c, context_a, context_b, context_c;
  };
  // `queries` and `length` DNNL_RUNTIME_DIM_VAL: the primitives' descriptors.
  HeadDescs head_descs(std::int64_t queries, std::int64_t length, std::int64_t size, std::int64_t width) const {
    const std::int64_t ld = 3 * width, h = heads_;
    const bool runtime = length == DNNL_RUNTIME_DIM_VAL;
    const std::int64_t score_plane = runtime ? DNNL_RUNTIME_DIM_VAL : queries * length;
    // bf16: Q, K, V and the probabilities in bfloat16, the scores and the context float32.
    const auto f32 = dnnl::memory::data_type::f32, half = bf16_ ? dnnl::memory::data_type::bf16 : f32;
    auto desc = [](dnnl::memory::dims dims, dnnl::memory::data_type type, dnnl::memory::dims strides) {
      return dnnl::memory::desc(dims, type, strides);
    };
    return {desc({h, queries, size}, half, {size, ld, 1}),
            desc({h, size, length}, half, {size, 1, ld}),
            desc({h, queries, length}, f32, {score_plane, length, 1}),
            desc({h, queries, length}, half, {score_plane, length, 1}),
            desc({h, length, size}, half, {size, ld, 1}),
            desc({h, queries, size}, f32, {size, width, 1})};
  }
  HeadProducts head_products(std::int64_t size, std::int64_t width) const {
    const HeadDescs d = head_descs(DNNL_RUNTIME_DIM_VAL, DNNL_RUNTIME_DIM_VAL, size, width);
    try {
      HeadProducts p;
      p.scores = make_matmul(d.scores_a, d.scores_b, {}, d.scores_c, {});
      p.context = make_matmul(d.context_a, d.context_b, {}, d.context_c, {});
      return p;
    } catch (const dnnl::error& e) {
      info_.fail("oneDNN refused attention's head products: {}", e.what());
    }
  }
  static dnnl::memory memory(const dnnl::memory::desc& desc, void* data) { return dnnl::memory(desc, dnnl_engine(), data); }

  // [rows, hidden] x weights + bias: [rows, 3 x width].
  // bf16 (passes/bf16_compute.h): x rounded to bfloat16, the weights packed as bfloat16, and Q, K, V
  // written in bfloat16 for the head products.
  // int8 (kernels/int8_product.h): x quantized per run to uint8, the weights int8.
  Tensor project(const Tensor& x, const Tensor& bias) const {
    const std::int64_t rows = x.dim(0), n = weights_shape_[1];
    const DType out_type = bf16_ ? DType::bf16 : DType::f32;
    Tensor qkv = allocate_checked(out_type, {rows, n}, info_);
    std::optional<Tensor> rounded;
    std::optional<Int8Rows> quantized;
    std::optional<Tensor> int8_bias_values;
    if (bf16_) rounded = rounded_to_bf16(x, info_);
    if (int8_) {
      quantized = quantize_rows(x, info_);
      int8_bias_values = int8_bias(*int8_, *quantized, &bias);
    }
    const auto a_type = int8_ ? dnnl::memory::data_type::u8 : bf16_ ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
    const auto b_type = int8_ ? dnnl::memory::data_type::s8 : a_type;
    const Tensor& lhs = int8_ ? quantized->values : bf16_ ? *rounded : x;
    const Tensor& b = int8_ ? *int8_bias_values : bias;
    float row_scale = int8_ ? quantized->scale : 1.0f;
    const std::size_t row_bytes = static_cast<std::size_t>(x.dim(1)) * dtype_size(lhs.dtype());
    // In row blocks (matmul_primitive.h), the rest padded to a block in copies.
    for_each_row_block(rows, [&](std::int64_t block, std::int64_t first, std::int64_t count) {
      const auto held = plans_.get(block, [&] {
        try {
          const auto any = dnnl::memory::desc(dnnl_dims(weights_shape_), b_type, dnnl::memory::format_tag::any);
          return make_matmul(plain_desc({block, x.dim(1)}, a_type), any, plain_desc({1, n}), plain_desc({block, n}, dnnl_type(out_type)),
                             int8_ ? int8_attributes(*int8_, int8_post_ops()) : dnnl::primitive_attr());
        } catch (const dnnl::error& e) {
          info_.fail("oneDNN refused the projection of {}: {}", shape_string(x.shape()), e.what());
        }
      });  // kept while the primitive runs (plan_cache.h)
      MatmulPlan& plan = *held;
      const std::byte* a_rows = static_cast<const std::byte*>(lhs.data()) + static_cast<std::size_t>(first) * row_bytes;
      const std::size_t out_row_bytes = static_cast<std::size_t>(n) * dtype_size(out_type);
      std::byte* out = static_cast<std::byte*>(qkv.data()) + static_cast<std::size_t>(first) * out_row_bytes;
      std::vector<std::byte> a_pad, out_pad;
      if (count < block) {
        a_pad.resize(static_cast<std::size_t>(block) * row_bytes);
        std::memcpy(a_pad.data(), a_rows, static_cast<std::size_t>(count) * row_bytes);
        out_pad.resize(static_cast<std::size_t>(block) * out_row_bytes);
      }
      const PackedWeights::Held weights = weights_->get(plan.b);
      std::unordered_map<int, dnnl::memory> args{
          {DNNL_ARG_SRC, dnnl::memory(plan.a, dnnl_engine(), const_cast<std::byte*>(a_pad.empty() ? a_rows : a_pad.data()))},
          {DNNL_ARG_WEIGHTS, weights.memory},
          {DNNL_ARG_BIAS, wrap(plan.bias, b)},
          {DNNL_ARG_DST, dnnl::memory(plan.c, dnnl_engine(), out_pad.empty() ? out : out_pad.data())}};
      if (int8_) args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, row_scale_memory(row_scale));
      execute(plan, std::move(args));
      if (!out_pad.empty()) std::memcpy(out, out_pad.data(), static_cast<std::size_t>(count) * out_row_bytes);
    });
    return qkv;
  }

  NodeInfo info_;
  std::int64_t heads_;
  float scale_;
  bool first_query_only_;
  bool bf16_;  // the projection in bfloat16
  std::vector<float> int8_scales_;   // the projection in int8: its weights' scales (int8_product.h)
  std::optional<Int8Columns> int8_;  // its weights, taken by prepack()
  const VectorLoops& loops_;
  Shape weights_shape_;
  mutable std::optional<PackedWeights> weights_;
  mutable PlanCache<std::int64_t, MatmulPlan> plans_{64};
  std::optional<HeadProducts> products_;  // for every query count and length
};

}  // namespace

void add_attention_kernels(KernelTable& t) {
  t.add(std::string(kEngineDomain) + ":Attention", [](const Node& node, std::int64_t) { return std::make_unique<AttentionKernel>(node); },
        {}, {DType::f32});
}

}  // namespace cpuinfer::engine
