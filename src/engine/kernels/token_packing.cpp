// cpuinfer:PackTokens and cpuinfer:FirstToken (passes/token_packing.h): a padded batch's real tokens
// packed into one sequence, and the first token of each sequence taken back out of it.
#include <cstring>

#include "engine/kernels/kernel_util.h"
#include "engine/passes/token_packing.h"

namespace cpuinfer::engine {

namespace {

// (x [B, L, H], mask) -> (packed [1, T, H], offsets [B + 1]).
std::vector<Tensor> pack(const NodeInfo& info, Inputs inputs) {
  const Tensor& x = info.input(inputs, 0);
  const Tensor& mask = info.input(inputs, 1);
  if (x.rank() != 3) info.fail("input {} is not [batch, sequence, hidden]", shape_string(x.shape()));
  const std::int64_t batch = x.dim(0), length = x.dim(1), hidden = x.dim(2);
  const auto lengths = packed_lengths(mask, batch, length);
  Tensor offsets(DType::i64, {batch + 1});
  auto begin = offsets.values<std::int64_t>();
  for (std::int64_t b = 0; b < batch; ++b) begin[b + 1] = begin[b] + (lengths ? (*lengths)[b] : length);
  // Copied even when nothing is dropped: the run then takes the same blocks whatever the lengths,
  // so its memory plan serves every batch of these input shapes (memory/run_memory.h).
  const std::int64_t tokens = begin[batch];
  Tensor packed = allocate_checked(x.dtype(), {1, tokens, hidden}, info);
  const std::size_t row = static_cast<std::size_t>(hidden) * dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.data());
  auto* dst = static_cast<std::byte*>(packed.data());
  for (std::int64_t b = 0; b < batch; ++b)
    std::memcpy(dst + static_cast<std::size_t>(begin[b]) * row, src + static_cast<std::size_t>(b * length) * row,
                static_cast<std::size_t>(begin[b + 1] - begin[b]) * row);
  return {std::move(packed), std::move(offsets)};
}

// (packed [1, T, H], offsets [B + 1]) -> [B, H] (keep_rank: [1, B, H]): row offsets[b] of each
// sequence, or row b when the rows are selected already ([1, B, H]).
std::vector<Tensor> first_token(const NodeInfo& info, bool keep_rank, bool rows_selected, Inputs inputs) {
  const Tensor& packed = info.input(inputs, 0);
  const std::vector<std::int64_t> begin = info.ints(info.input(inputs, 1), "offsets");
  if (packed.rank() != 3 || packed.dim(0) != 1) info.fail("input {} is not [1, tokens, hidden]", shape_string(packed.shape()));
  const auto batch = static_cast<std::int64_t>(begin.size()) - 1;
  const std::int64_t hidden = packed.dim(2);
  if (rows_selected && packed.dim(1) != batch) info.fail("input {} does not hold one row for each of {} sequences", shape_string(packed.shape()), batch);
  Tensor y = allocate_checked(packed.dtype(), keep_rank ? Shape{1, batch, hidden} : Shape{batch, hidden}, info);
  const std::size_t row = static_cast<std::size_t>(hidden) * dtype_size(packed.dtype());
  for (std::int64_t b = 0; b < batch; ++b) {
    if (begin[b] < 0 || begin[b] >= begin[b + 1] || begin[b + 1] > (rows_selected ? begin[batch] : packed.dim(1)))
      info.fail("offsets do not cut {} tokens into non-empty sequences", packed.dim(1));
    const std::int64_t from = rows_selected ? b : begin[b];
    std::memcpy(static_cast<std::byte*>(y.data()) + static_cast<std::size_t>(b) * row,
                static_cast<const std::byte*>(packed.data()) + static_cast<std::size_t>(from) * row, row);
  }
  return one(std::move(y));
}

}  // namespace

void add_token_packing_kernels(KernelTable& t) {
  const std::string domain = std::string(kEngineDomain) + ":";
  t.add(domain + kPackTokensOp, [](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node)](Inputs inputs) { return pack(info, inputs); });
  });
  t.add(domain + kFirstTokenOp, [](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node), keep_rank = node.get_int(kKeepRank, 0) != 0,
                                 rows_selected = node.get_int(kRowsSelected, 0) != 0](Inputs inputs) {
      return first_token(info, keep_rank, rows_selected, inputs);
    });
  });
}

}  // namespace cpuinfer::engine
