// PackedWeights: one reorder per layout, the plain copy freed once no layout needs it.
#include "engine/kernels/packed_weights.h"

#include <algorithm>

#include "core/aligned_storage.h"

namespace cpuinfer::engine {

namespace {
bool is_winograd(const dnnl::memory::desc& desc) { return desc.data.format_kind == dnnl_format_kind_wino; }
}  // namespace

PackedWeights::PackedWeights(const Tensor& plain, const Shape& logical, bool winograd)
    : plain_(plain), source_{nullptr, wrap(plain_desc(logical), plain)}, winograd_(winograd) {}

dnnl::memory PackedWeights::get(const dnnl::memory::desc& desc) {
  if (source_.memory.get_desc() == desc) return source_.memory;
  for (const Layout& l : layouts_)
    if (l.memory.get_desc() == desc) return l.memory;
  if (is_winograd(desc)) std::erase_if(layouts_, [](const Layout& l) { return is_winograd(l.memory.get_desc()); });
  Layout packed;
  packed.storage = allocate_storage(std::max<std::size_t>(desc.get_size(), 1));
  packed.memory = dnnl::memory(desc, dnnl_engine(), packed.storage.get());
  dnnl::reorder(source_.memory, packed.memory).execute(dnnl_stream(), source_.memory, packed.memory);
  dnnl_stream().wait();
  if (!winograd_ && plain_.nbytes() > 0) {
    source_ = packed;  // reorders between blocked layouts need no plain copy
    plain_ = Tensor();
    return source_.memory;
  }
  layouts_.push_back(packed);
  return packed.memory;
}

}  // namespace cpuinfer::engine
