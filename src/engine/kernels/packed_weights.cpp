// PackedWeights: one reorder per layout, the plain copy freed once no layout needs it.
#include "engine/kernels/packed_weights.h"

#include <algorithm>

namespace cpuinfer::engine {

namespace {
bool is_winograd(const dnnl::memory::desc& desc) { return desc.data.format_kind == dnnl_format_kind_wino; }
}  // namespace

PackedWeights::PackedWeights(const Tensor& plain, const Shape& logical, bool winograd)
    : plain_(plain), source_(wrap(plain_desc(logical), plain)), winograd_(winograd) {}

dnnl::memory PackedWeights::get(const dnnl::memory::desc& desc) {
  if (source_.get_desc() == desc) return source_;
  for (const dnnl::memory& m : layouts_)
    if (m.get_desc() == desc) return m;
  if (is_winograd(desc)) std::erase_if(layouts_, [](const dnnl::memory& m) { return is_winograd(m.get_desc()); });
  dnnl::memory packed(desc, dnnl_engine());
  dnnl::reorder(source_, packed).execute(dnnl_stream(), source_, packed);
  dnnl_stream().wait();
  if (!winograd_ && plain_.nbytes() > 0) {
    source_ = packed;   // reorders between blocked layouts need no plain copy
    plain_ = Tensor();
  } else {
    layouts_.push_back(packed);
  }
  return packed;
}

}  // namespace cpuinfer::engine
