// Dynamic int8 products: the weights' columns, the rows' quantization, oneDNN's attributes.
#include "engine/kernels/int8_product.h"

#include <algorithm>
#include <cmath>

#include "engine/kernels/vector/vector_loops.h"

namespace cpuinfer::engine {

Int8Columns int8_columns(const Tensor& w, const std::vector<float>& scales, const NodeInfo& info) {
  if (w.dtype() != DType::f32 || w.rank() != 2) info.fail("int8 weights must be a float32 matrix, got {} {}", dtype_name(w.dtype()), shape_string(w.shape()));
  const std::int64_t k = w.dim(0), n = w.dim(1);
  if (static_cast<std::int64_t>(scales.size()) != n) info.fail("{} weight scales for {} columns", scales.size(), n);
  for (float s : scales)
    if (!(s > 0.0f) || !std::isfinite(s)) info.fail("weight scale {} is not a positive number", s);
  Int8Columns c{Tensor(DType::i8, w.shape()), scales, std::vector<std::int32_t>(static_cast<std::size_t>(n), 0)};
  const float* src = w.values<float>().data();
  auto* dst = static_cast<std::int8_t*>(c.weights.data());
  for (std::int64_t r = 0; r < k; ++r)
    for (std::int64_t j = 0; j < n; ++j) {
      const float q = std::clamp(std::nearbyint(src[r * n + j] / scales[static_cast<std::size_t>(j)]), -127.0f, 127.0f);
      dst[r * n + j] = static_cast<std::int8_t>(q);
      c.sums[static_cast<std::size_t>(j)] += static_cast<std::int32_t>(q);
    }
  return c;
}

Int8Rows quantize_rows(const Tensor& a, const NodeInfo& info) {
  const float* x = a.values<float>().data();
  const auto n = static_cast<std::int64_t>(a.numel());
  const VectorLoops& loops = vector_loops();
  // The range, in chunks across the threads.
  constexpr std::int64_t kChunk = 1 << 16;
  const std::int64_t chunks = std::max<std::int64_t>(1, (n + kChunk - 1) / kChunk);
  std::vector<float> lo(static_cast<std::size_t>(chunks)), hi(static_cast<std::size_t>(chunks));
  parallel_for(chunks, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t c = begin; c < end; ++c)
      loops.min_max(x + c * kChunk, std::min(kChunk, n - c * kChunk), &lo[static_cast<std::size_t>(c)], &hi[static_cast<std::size_t>(c)]);
  });
  const float low = std::min(0.0f, *std::ranges::min_element(lo)), high = std::max(0.0f, *std::ranges::max_element(hi));
  if (!std::isfinite(low) || !std::isfinite(high)) info.fail("cannot quantize values ranging from {} to {}", low, high);
  Int8Rows rows{allocate_checked(DType::u8, a.shape(), info), (high - low) / 255.0f, 0};
  if (rows.scale == 0.0f) rows.scale = 1.0f;  // all zeros: any scale quantizes them to the zero point 0
  rows.zero_point = static_cast<std::int32_t>(std::clamp(std::nearbyint(-low / rows.scale), 0.0f, 255.0f));
  auto* q = static_cast<std::uint8_t*>(rows.values.data());
  const float scale = rows.scale, zero = static_cast<float>(rows.zero_point);
  parallel_for(n, kChunk, [&](std::int64_t begin, std::int64_t end) { loops.quantize_u8(x + begin, q + begin, end - begin, scale, zero); });
  return rows;
}

dnnl::post_ops int8_post_ops() {
  dnnl::post_ops ops;
  ops.append_binary(dnnl::algorithm::binary_mul, plain_desc({1, 1}));
  return ops;
}

dnnl::memory row_scale_memory(float& scale) { return dnnl::memory(plain_desc({1, 1}), dnnl_engine(), &scale); }

Tensor int8_bias(const Int8Columns& columns, const Int8Rows& rows, const Tensor* bias) {
  const auto n = static_cast<std::int64_t>(columns.scales.size());
  Tensor b(DType::f32, {1, n});
  float* dst = b.values<float>().data();
  const float* given = bias ? bias->values<float>().data() : nullptr;
  const auto zero = static_cast<float>(rows.zero_point);
  for (std::int64_t j = 0; j < n; ++j) {
    const auto c = static_cast<std::size_t>(j);
    dst[j] = (given ? given[j] / (rows.scale * columns.scales[c]) : 0.0f) - zero * static_cast<float>(columns.sums[c]);
  }
  return b;
}

dnnl::primitive_attr int8_attributes(const Int8Columns& columns, const dnnl::post_ops& post_ops) {
  dnnl::primitive_attr attr;
  attr.set_output_scales(1 << 1, columns.scales);
  attr.set_post_ops(post_ops);
  return attr;
}

}  // namespace cpuinfer::engine
