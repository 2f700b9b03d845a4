// cpuinfer:Attention (passes/attention_fusion.h): multi-head self-attention in two steps.
//  1. One GEMM projects every token to its query, key and value: [rows, hidden] x [hidden, 3 * width]
//     plus bias, the three weight matrices side by side, packed once at load (packed_weights.h).
//  2. Per sequence, per head and per block of 64 queries: scores = scale * Q K^T for the block
//     (64 x length, in the thread's L2), the mask's row added and softmax taken in place, then the
//     block's context = P V written into the head's columns of the output. Blocks run in parallel.
// Sequences are the input's rows [batch, length] or, with the offsets input (passes/token_packing.h),
// the packed rows [1, tokens] cut at offsets[b]: each sequence attends over its own length only.
// The mask (additive, broadcast to [batch, heads, queries, keys]) is read in place, never expanded.
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <optional>

#include "engine/kernels/matmul_primitive.h"
#include "engine/kernels/packed_weights.h"
#include "engine/kernels/plan_cache.h"
#include "engine/kernels/vector/vector_loops.h"

namespace cpuinfer::engine {

namespace {

constexpr std::int64_t kQueryBlock = 64;

class AttentionKernel final : public Kernel {
 public:
  enum Input : std::size_t { kInput = 0, kWeights = 1, kBias = 2, kMask = 3, kOffsets = 4 };

  explicit AttentionKernel(const Node& node)
      : info_(node), heads_(node.get_int("num_heads", 0)), scale_(node.get_float("scale", 1.0f)), loops_(vector_loops()) {
    if (heads_ < 1) info_.fail("num_heads must be positive, got {}", heads_);
  }

  bool prepack(std::size_t input, const Tensor& constant) override {
    if (input != kWeights) return false;
    if (constant.dtype() != DType::f32 || constant.rank() != 2 || constant.dim(1) % (3 * heads_) != 0)
      info_.fail("weights {} are not [hidden, 3 x heads x head size] float", shape_string(constant.shape()));
    weights_shape_ = constant.shape();
    weights_.emplace(constant, constant.shape());
    return true;
  }

  std::vector<Tensor> run(Inputs inputs) override {
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

    Tensor y = allocate_checked(DType::f32, {x.dim(0), x.dim(1), width}, info_);
    if (rows == 0) return one(std::move(y));
    const Tensor qkv = project(x.reshaped({rows, hidden}), bias.reshaped({1, 3 * width}));

    struct Block {
      std::int64_t sequence, head, first_query;
    };
    std::vector<Block> blocks;
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t h = 0; h < heads_; ++h)
        for (std::int64_t q = 0; q < begin[b + 1] - begin[b]; q += kQueryBlock) blocks.push_back({b, h, q});
    const float* all = qkv.values<float>().data();
    float* out = y.values<float>().data();
    const std::int64_t ld = 3 * width;
    const auto count = static_cast<std::int64_t>(blocks.size());
    bool failed = false;
#pragma omp parallel num_threads(std::max<int>(1, std::min<std::int64_t>(max_threads(), count)))
    {
      std::vector<float> scores(static_cast<std::size_t>(kQueryBlock * longest));
      std::vector<float> addend(static_cast<std::size_t>(longest));
#pragma omp for schedule(dynamic)
      for (std::int64_t i = 0; i < count; ++i) {
        const Block& block = blocks[static_cast<std::size_t>(i)];
        const std::int64_t first = begin[block.sequence], length = begin[block.sequence + 1] - first;
        const std::int64_t queries = std::min(kQueryBlock, length - block.first_query);
        const float* q = all + (first + block.first_query) * ld + block.head * head_size;
        const float* k = all + first * ld + width + block.head * head_size;
        const float* v = all + first * ld + 2 * width + block.head * head_size;
        if (dnnl_sgemm('N', 'T', queries, length, head_size, scale_, q, ld, k, ld, 0.0f, scores.data(), length) != dnnl_success)
          failed = true;
        for (std::int64_t r = 0; r < queries; ++r)
          loops_.softmax_row(scores.data() + r * length,
                             m.row(block.sequence, block.head, block.first_query + r, length, addend.data()), length);
        float* context = out + (first + block.first_query) * width + block.head * head_size;
        if (dnnl_sgemm('N', 'N', queries, head_size, length, 1.0f, scores.data(), length, v, ld, 0.0f, context, width) != dnnl_success)
          failed = true;
      }
    }
    if (failed) info_.fail("oneDNN's sgemm failed");
    return one(std::move(y));
  }

 private:
  // The mask as strides over [batch, heads, queries, keys] (0 where it broadcasts).
  struct MaskView {
    const float* data = nullptr;
    std::int64_t stride[4] = {0, 0, 0, 0};
    // The mask's values for one query over `length` keys: the data itself when its keys are
    // contiguous, else gathered into `scratch`; null without a mask.
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

  // [rows, hidden] x weights + bias: [rows, 3 x width].
  Tensor project(const Tensor& x, const Tensor& bias) {
    const std::int64_t rows = x.dim(0), n = weights_shape_[1];
    Tensor qkv = allocate_checked(DType::f32, {rows, n}, info_);
    MatmulPlan& plan = plans_.get(rows, [&] {
      try {
        const auto any = dnnl::memory::desc(dnnl_dims(weights_shape_), dnnl::memory::data_type::f32, dnnl::memory::format_tag::any);
        return make_matmul(plain_desc(x.shape()), any, plain_desc(bias.shape()), plain_desc(qkv.shape()), {});
      } catch (const dnnl::error& e) {
        info_.fail("oneDNN refused the projection of {}: {}", shape_string(x.shape()), e.what());
      }
    });
    execute(plan, x, weights_->get(plan.b), &bias, qkv);
    return qkv;
  }

  NodeInfo info_;
  std::int64_t heads_;
  float scale_;
  const VectorLoops& loops_;
  Shape weights_shape_;
  std::optional<PackedWeights> weights_;
  PlanCache<std::int64_t, MatmulPlan> plans_{64};
};

}  // namespace

void add_attention_kernels(KernelTable& t) {
  t.add(std::string(kEngineDomain) + ":Attention", [](const Node& node, std::int64_t) { return std::make_unique<AttentionKernel>(node); },
        {}, {DType::f32});
}

}  // namespace cpuinfer::engine
