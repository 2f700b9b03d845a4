// oneDNN engine/stream and window arithmetic.
#include "engine/kernels/dnnl_support.h"

#include "core/aligned_storage.h"
#include "core/storage_source.h"

namespace cpuinfer::engine {

dnnl::engine& dnnl_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& dnnl_stream() {
  thread_local dnnl::stream stream(dnnl_engine());
  return stream;
}

std::string dnnl_version_string() {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("oneDNN {}.{}.{} (cpu runtime: {})", v->major, v->minor, v->patch,
                     v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
}

dnnl::memory::dims dnnl_dims(const Shape& shape) { return dnnl::memory::dims(shape.begin(), shape.end()); }

dnnl::memory::data_type dnnl_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return dnnl::memory::data_type::f32;
    case DType::bf16: return dnnl::memory::data_type::bf16;
    case DType::u8: return dnnl::memory::data_type::u8;
    case DType::i8: return dnnl::memory::data_type::s8;
    case DType::i32: return dnnl::memory::data_type::s32;
    default: throw Unsupported(fmt::format("no oneDNN element type for {}", dtype_name(dtype)));
  }
}

dnnl::memory::desc plain_desc(const Shape& shape, dnnl::memory::data_type type) {
  return dnnl::memory::desc(dnnl_dims(shape), type, dnnl_dims(contiguous_strides(shape)));
}


dnnl::memory::desc nhwc_desc(const Shape& logical, dnnl::memory::data_type type) {
  return dnnl::memory::desc(dnnl_dims(logical), type, dnnl::memory::format_tag::nhwc);
}

dnnl::memory::desc blocked_desc(const Shape& logical, int block, dnnl::memory::data_type type) {
  const auto tag = block == 16 ? dnnl::memory::format_tag::nChw16c : dnnl::memory::format_tag::nChw8c;
  return dnnl::memory::desc(dnnl_dims(logical), type, tag);
}

Shape blocked_shape(const Shape& logical, int block) {
  return {logical[0], (logical[1] + block - 1) / block, logical[2], logical[3], block};
}

Shape logical_shape(const Tensor& blocked, std::int64_t channels, int block, const NodeInfo& info) {
  if (blocked.rank() != 5 || blocked.dim(4) != block || blocked.dim(1) != (channels + block - 1) / block)
    info.fail("blocked input {} is not {} channels in blocks of {}", shape_string(blocked.shape()), channels, block);
  return {blocked.dim(0), channels, blocked.dim(2), blocked.dim(3)};
}

dnnl::primitive_attr user_scratchpad(dnnl::primitive_attr attr) {
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

Scratchpad::Scratchpad(const dnnl::memory::desc& desc) {
  const std::size_t bytes = desc.get_size();
  if (bytes > 0) {
    StorageSource* source = StorageSource::current();
    storage_ = source ? source->take(bytes)
                      : allocate_storage((bytes + kStorageAlignment - 1) / kStorageAlignment * kStorageAlignment);
  }
  memory_ = dnnl::memory(desc, dnnl_engine(), storage_.get());
}

dnnl::memory wrap(const dnnl::memory::desc& desc, const Tensor& tensor) {
  return dnnl::memory(desc, dnnl_engine(), const_cast<void*>(tensor.data()));
}

Window Window::from(const Node& node, const NodeInfo& info) {
  Window w;
  w.kernel = node.get_ints("kernel_shape");
  w.strides = node.get_ints("strides");
  w.dilations = node.get_ints("dilations");
  w.pads = node.get_ints("pads");
  w.auto_pad = node.get_string("auto_pad", "NOTSET");
  w.ceil_mode = node.get_int("ceil_mode", 0) != 0;
  if (w.auto_pad != "NOTSET" && w.auto_pad != "SAME_UPPER" && w.auto_pad != "SAME_LOWER" && w.auto_pad != "VALID")
    info.fail("unknown auto_pad '{}'", w.auto_pad);
  for (std::int64_t k : w.kernel)
    if (k <= 0) info.fail("kernel_shape {} has a non-positive size", fmt::join(w.kernel, ","));
  for (std::int64_t s : w.strides)
    if (s <= 0) info.fail("strides {} has a non-positive stride", fmt::join(w.strides, ","));
  for (std::int64_t d : w.dilations)
    if (d <= 0) info.fail("dilations {} has a non-positive dilation", fmt::join(w.dilations, ","));
  for (std::int64_t p : w.pads)
    if (p < 0 || p > (std::int64_t{1} << 30)) info.fail("pads {} has a negative or absurd pad", fmt::join(w.pads, ","));
  return w;
}

dnnl::memory::dims Window::dnnl_strides(std::size_t spatial) const {
  dnnl::memory::dims d;
  for (std::size_t i = 0; i < spatial; ++i) d.push_back(strides.empty() ? 1 : strides[i]);
  return d;
}

dnnl::memory::dims Window::dnnl_dilations(std::size_t spatial) const {
  dnnl::memory::dims d;
  for (std::size_t i = 0; i < spatial; ++i) d.push_back((dilations.empty() ? 1 : dilations[i]) - 1);
  return d;
}

Window::Resolved Window::resolve(const std::vector<std::int64_t>& in, const NodeInfo& info) const {
  const std::size_t n = in.size();
  if (kernel.size() != n) info.fail("kernel_shape has {} sizes for {} spatial dimensions", kernel.size(), n);
  if (!strides.empty() && strides.size() != n) info.fail("strides has {} values for {} spatial dimensions", strides.size(), n);
  if (!dilations.empty() && dilations.size() != n)
    info.fail("dilations has {} values for {} spatial dimensions", dilations.size(), n);
  if (!pads.empty() && pads.size() != 2 * n) info.fail("pads has {} values for {} spatial dimensions", pads.size(), n);
  Resolved r;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t s = strides.empty() ? 1 : strides[i];
    const std::int64_t d = dilations.empty() ? 1 : dilations[i];
    if (kernel[i] > (std::int64_t{1} << 30) || d > (std::int64_t{1} << 30) || s > (std::int64_t{1} << 30))
      info.fail("window sizes are absurd");
    const std::int64_t extent = (kernel[i] - 1) * d + 1;
    std::int64_t begin = pads.empty() ? 0 : pads[i], end = pads.empty() ? 0 : pads[n + i], out = 0;
    if (auto_pad == "VALID") {
      begin = end = 0;
      r.given_pad_end.push_back(0);
      out = in[i] >= extent ? (in[i] - extent) / s + 1 : 0;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      out = (in[i] + s - 1) / s;
      const std::int64_t total = std::max<std::int64_t>(0, (out - 1) * s + extent - in[i]);
      begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end = total - begin;
      r.given_pad_end.push_back(end);
    } else {
      r.given_pad_end.push_back(end);
      const std::int64_t span = in[i] + begin + end - extent;
      if (span < 0) info.fail("the window ({}) is larger than the padded input ({})", extent, in[i] + begin + end);
      out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
      // Pooling with ceil_mode: the last window must start inside the input or its begin padding.
      if (ceil_mode && (out - 1) * s >= in[i] + begin) --out;
      end = std::max(end, (out - 1) * s + extent - in[i] - begin);
    }
    if (out <= 0) info.fail("spatial dimension {} of size {} leaves no output", i, in[i]);
    r.out.push_back(out);
    r.pad_begin.push_back(begin);
    r.pad_end.push_back(end);
  }
  return r;
}

}  // namespace cpuinfer::engine
