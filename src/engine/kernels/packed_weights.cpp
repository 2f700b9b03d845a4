// PackedWeights: one reorder per layout, from one source copy.
#include "engine/kernels/packed_weights.h"

#include <algorithm>

#include "core/aligned_storage.h"

namespace cpuinfer::engine {

namespace {
bool is_winograd(const dnnl::memory::desc& desc) { return desc.data.format_kind == dnnl_format_kind_wino; }

void reorder(dnnl::memory from, dnnl::memory to) {
  dnnl::reorder(from, to).execute(dnnl_stream(), from, to);
  dnnl_stream().wait();
}
}  // namespace

PackedWeights::PackedWeights(const Tensor& plain, const Shape& logical)
    : logical_(logical),
      source_{std::make_shared<const Tensor>(plain), wrap(plain_desc(logical, dnnl_type(plain.dtype())), plain), {}} {}

PackedWeights::Layout PackedWeights::allocate(const dnnl::memory::desc& desc) {
  std::shared_ptr<std::byte[]> bytes = allocate_storage(std::max<std::size_t>(desc.get_size(), 1));
  Layout l;
  l.memory = dnnl::memory(desc, dnnl_engine(), bytes.get());
  l.storage = std::move(bytes);
  return l;
}

void PackedWeights::reorder_into(const dnnl::memory& to, const dnnl::memory::dims& taps) const {
  if (!taps.empty()) {  // a view of the source's sub-block
    const dnnl::memory::desc part = source_.memory.get_desc().submemory_desc(to.get_desc().dims(), taps);
    return reorder(dnnl::memory(part, dnnl_engine(), source_.memory.get_data_handle()), to);
  }
  if (!is_winograd(to.get_desc()) || plain_source_) return reorder(source_.memory, to);
  const Layout plain = allocate(plain_desc(logical_, source_.memory.get_desc().data_type()));  // Winograd from a blocked source: through plain
  reorder(source_.memory, plain.memory);
  reorder(plain.memory, to);
}

PackedWeights::Held PackedWeights::get(const dnnl::memory::desc& desc, const dnnl::memory::dims& taps) {
  const std::lock_guard lock(mutex_);
  if (taps.empty() && source_.memory.get_desc() == desc) return {source_.memory, source_.storage};
  for (const Layout& l : layouts_)
    if (l.memory.get_desc() == desc && l.taps == taps) return {l.memory, l.storage};
  if (is_winograd(desc)) std::erase_if(layouts_, [](const Layout& l) { return is_winograd(l.memory.get_desc()); });
  Layout packed = allocate(desc);
  packed.taps = taps;
  reorder_into(packed.memory, taps);
  // A layout with extra data (int8 weights: oneDNN's compensation sums, and below VNNI weights
  // scaled by 0.5) is never a source: reordered again, the scaling applied twice (an int8 session
  // gave wrong results after a batch-size change: the graph fuzzer's int8 mode).
  if (!is_winograd(desc) && plain_source_ && taps.empty() && desc.data.extra.flags == dnnl_memory_extra_flag_none) {
    source_ = packed;  // the first blocked layout: the source from now on (the plain weights freed)
    plain_source_ = false;
    return {source_.memory, source_.storage};
  }
  layouts_.push_back(packed);
  return {packed.memory, packed.storage};
}

}  // namespace cpuinfer::engine
