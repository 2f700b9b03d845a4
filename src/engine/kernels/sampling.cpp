// Sampling an image at computed positions: GridSample (opset 16: 4-D input; bilinear, nearest and
// bicubic interpolation; zeros, border and reflection padding; align_corners) and RoiAlign (opsets
// 10 and 16: average or max pooling of bilinear samples over each region's bins, a fixed or
// adaptive number of samples per bin, half_pixel and output_half_pixel coordinates).
// Where the specification leaves room they follow ONNX Runtime's CPU kernels: GridSample pads each
// interpolation tap (as PyTorch does), so bicubic near a border still sees the pixels inside it;
// RoiAlign's max mode takes, per sample, the largest of its four weighted corner terms rather
// than the interpolated value, as ONNX's reference implementation and test data do.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

namespace {

// ---- GridSample

enum class Interpolation { nearest, linear, cubic };
enum class Padding { zeros, border, reflection };

struct GridSampleAttributes {
  Interpolation mode = Interpolation::linear;
  Padding padding = Padding::zeros;
  bool align_corners = false;
};

// Taps per axis: 1, 2 or 4.
std::size_t taps_per_axis(Interpolation mode) {
  return mode == Interpolation::nearest ? 1 : mode == Interpolation::linear ? 2 : 4;
}

// The taps of one output element along one input axis: the input indices, -1 standing for a zero
// of the padding, and their weights.
template <typename T> struct AxisTaps {
  std::array<std::int64_t, 4> index{};
  std::array<T, 4> weight{};
};

// x reflected at the ends of [low, high] until it lies inside (ONNX Runtime's GsReflect).
template <typename T> T reflect(T x, T low, T high) {
  if (x >= low && x <= high) return x;
  const T span = high - low;
  if (span <= 0) return low;  // a single pixel with align_corners
  T d = std::fmod(x - low, 2 * span);
  if (d < 0) d += 2 * span;
  return low + (d > span ? 2 * span - d : d);
}

// Keys' cubic convolution weights (A = -0.75) of the taps at distances 1 + r, r, 1 - r and 2 - r.
// The taps of normalised grid value g along an input axis of `size` pixels.
template <typename T> AxisTaps<T> axis_taps(T g, std::int64_t size, const GridSampleAttributes& a) {
  const T n = static_cast<T>(size);
  // [-1, 1] spans the centres of the end pixels with align_corners, their outer edges without.
  T x = a.align_corners ? (g + 1) / 2 * (n - 1) : ((g + 1) * n - 1) / 2;
  const T low = a.align_corners ? T(0) : T(-0.5), high = a.align_corners ? n - 1 : n - T(0.5);
  AxisTaps<T> t;
  if (!std::isfinite(x)) {  // a NaN or infinite grid value samples NaN
    t.index.fill(size > 0 ? 0 : -1);
    t.weight.fill(std::numeric_limits<T>::quiet_NaN());
    return t;
  }
  if (a.mode == Interpolation::nearest) x = std::nearbyint(x);  // ties to even
  // Far outside, x is brought near without changing what its taps read, so that they are exact
  // integers in T and int64: beyond 4 pixels out, zeros and border taps all saturate; reflection
  // repeats (reflecting the coordinate itself costs precision, so only where it has little left).
  if (a.padding != Padding::reflection) x = std::clamp(x, T(-4), n + 3);
  else if (std::abs(x) > T(1 << 22)) x = reflect(x, low, high);
  const T f = std::floor(x);
  const auto base = static_cast<std::int64_t>(f);
  switch (a.mode) {
    case Interpolation::nearest:
      t.index[0] = base;
      t.weight[0] = 1;
      break;
    case Interpolation::linear:
      t.index = {base, base + 1};
      t.weight = {f + 1 - x, x - f};
      break;
    case Interpolation::cubic:
      t.index = {base - 1, base, base + 1, base + 2};
      t.weight = cubic_weights(x - f, static_cast<T>(-0.75));
      break;
  }
  for (std::size_t k = 0; k < taps_per_axis(a.mode); ++k) {
    std::int64_t& i = t.index[k];
    if (a.padding == Padding::zeros) {
      if (i < 0 || i >= size) i = -1;
    } else if (a.padding == Padding::border) {
      i = std::clamp<std::int64_t>(i, 0, size - 1);
    } else {
      i = std::clamp<std::int64_t>(static_cast<std::int64_t>(reflect(static_cast<T>(i), low, high)), 0, size - 1);
    }
  }
  return t;
}

// One output element: the taps' weighted sum, rows first.
template <typename T>
T interpolate(const T* plane, std::int64_t width, const AxisTaps<T>& ty, const AxisTaps<T>& tx, std::size_t taps) {
  T value = 0;
  for (std::size_t i = 0; i < taps; ++i) {
    if (ty.index[i] < 0) continue;
    const T* row = plane + ty.index[i] * width;
    T v = 0;
    for (std::size_t j = 0; j < taps; ++j)
      if (tx.index[j] >= 0) v += tx.weight[j] * row[tx.index[j]];
    value += ty.weight[i] * v;
  }
  return value;
}

template <typename T> void grid_sample(const Tensor& x, const Tensor& grid, Tensor& y, const GridSampleAttributes& a) {
  const std::int64_t batch = x.dim(0), channels = x.dim(1), height = x.dim(2), width = x.dim(3);
  const std::int64_t points = grid.dim(1) * grid.dim(2), pixels = height * width;
  const T* in = x.values<T>().data();
  const T* g = grid.values<T>().data();
  T* out = y.values<T>().data();
  const std::size_t taps = taps_per_axis(a.mode);
  const auto work = channels * static_cast<std::int64_t>(taps * taps);  // per output point
  // Blocks of output points of one batch entry: their taps are found once and serve every channel.
  parallel_for(batch * points, std::max<std::int64_t>(1, 16384 / work), [&](std::int64_t begin, std::int64_t end) {
    constexpr std::int64_t kBlock = 256;
    std::vector<std::array<AxisTaps<T>, 2>> block(static_cast<std::size_t>(kBlock));  // y, x
    for (std::int64_t p0 = begin; p0 < end;) {
      const std::int64_t n = p0 / points, p1 = std::min({end, p0 + kBlock, (n + 1) * points});
      for (std::int64_t p = p0; p < p1; ++p)
        block[static_cast<std::size_t>(p - p0)] = {axis_taps(g[2 * p + 1], height, a), axis_taps(g[2 * p], width, a)};
      for (std::int64_t c = 0; c < channels; ++c) {
        const T* plane = in + (n * channels + c) * pixels;
        T* o = out + (n * channels + c) * points + (p0 - n * points);
        for (std::int64_t p = p0; p < p1; ++p) {
          const auto& t = block[static_cast<std::size_t>(p - p0)];
          o[p - p0] = interpolate(plane, width, t[0], t[1], taps);
        }
      }
      p0 = p1;
    }
  });
}

std::unique_ptr<Kernel> make_grid_sample(const Node& node, std::int64_t) {
  NodeInfo info(node);
  GridSampleAttributes a;
  const std::string mode = node.get_string("mode", "bilinear"), padding = node.get_string("padding_mode", "zeros");
  if (mode == "bilinear") a.mode = Interpolation::linear;
  else if (mode == "nearest") a.mode = Interpolation::nearest;
  else if (mode == "bicubic") a.mode = Interpolation::cubic;
  else info.unsupported("mode '{}'", mode);
  if (padding == "zeros") a.padding = Padding::zeros;
  else if (padding == "border") a.padding = Padding::border;
  else if (padding == "reflection") a.padding = Padding::reflection;
  else info.unsupported("padding_mode '{}'", padding);
  a.align_corners = node.get_int("align_corners", 0) != 0;
  return make_function_kernel([info, a, padding](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const Tensor& grid = info.input(inputs, 1);
    if (x.rank() != 4) info.fail("X has shape {}, expected N x C x H x W", shape_string(x.shape()));
    if (grid.rank() != 4 || grid.dim(0) != x.dim(0) || grid.dim(3) != 2)
      info.fail("grid has shape {}, expected N x H_out x W_out x 2 with N = {}", shape_string(grid.shape()), x.dim(0));
    if (grid.dtype() != DType::f32 && grid.dtype() != DType::f64)
      info.fail("grid must be float32 or float64, got {}", dtype_name(grid.dtype()));
    Tensor y = allocate_checked(x.dtype(), {x.dim(0), x.dim(1), grid.dim(1), grid.dim(2)}, info);
    if (y.numel() == 0) return one(std::move(y));
    if ((x.dim(2) == 0 || x.dim(3) == 0) && a.padding != Padding::zeros)
      info.fail("X has shape {}, no pixels for padding_mode '{}' to repeat", shape_string(x.shape()), padding);
    visit_dtype<FloatTypes>(x.dtype(), [&](auto tag) { grid_sample<decltype(tag)>(x, cast(grid, x.dtype()), y, a); });
    return one(std::move(y));
  });
}

// ---- RoiAlign

struct RoiAlignAttributes {
  bool max = false;         // mode: max rather than avg
  bool half_pixel = false;  // coordinate_transformation_mode (output_half_pixel before opset 16)
  std::int64_t height = 1, width = 1, sampling_ratio = 0;
  float spatial_scale = 1;
};

// Samples per axis of one region, at most: beyond, a region (NaN, or far larger than any image)
// is refused rather than sampled for ever.
constexpr std::int64_t kMaxAxisSamples = std::int64_t{1} << 20;

// Where one region samples: its top-left corner, bin size and samples per bin along each axis.
template <typename T> struct Region {
  T start_y = 0, start_x = 0, bin_h = 0, bin_w = 0;
  std::int64_t grid_h = 0, grid_w = 0;
};

// One sample's bilinear neighbours along one axis, as ONNX Runtime computes them: clamped to
// the first and last pixel, and the whole sample zero when outside [-1, size] on either axis.
template <typename T> struct AxisSample {
  bool inside = false;
  std::int64_t low = 0, high = 0;
  T l = 0, h = 0;  // the weights of high and of low
};

// The samples along one axis, `grid` per output bin at fractions (i + 0.5) / grid of the bin.
template <typename T>
void axis_samples(T start, T bin, std::int64_t grid, std::int64_t bins, std::int64_t size, std::vector<AxisSample<T>>& out) {
  out.assign(static_cast<std::size_t>(bins * grid), AxisSample<T>{});
  for (std::int64_t b = 0; b < bins; ++b)
    for (std::int64_t i = 0; i < grid; ++i) {
      T v = start + static_cast<T>(b) * bin + (static_cast<T>(i) + T(0.5)) * bin / static_cast<T>(grid);
      if (!(v >= -1 && v <= static_cast<T>(size))) continue;
      AxisSample<T>& s = out[static_cast<std::size_t>(b * grid + i)];
      s.inside = true;
      if (v <= 0) v = 0;
      s.low = static_cast<std::int64_t>(v);
      if (s.low >= size - 1) {
        s.low = s.high = size - 1;
        v = static_cast<T>(s.low);
      } else {
        s.high = s.low + 1;
      }
      s.l = v - static_cast<T>(s.low);
      s.h = 1 - s.l;
    }
}

// One output element: the average, or the max, over the bin's grid_h x grid_w samples.
template <typename T>
T pool_bin(const T* plane, std::int64_t width, const AxisSample<T>* ys, const AxisSample<T>* xs, const Region<T>& r,
           bool max) {
  T result = 0;
  for (std::int64_t iy = 0; iy < r.grid_h; ++iy)
    for (std::int64_t ix = 0; ix < r.grid_w; ++ix) {
      const AxisSample<T>& sy = ys[iy];
      const AxisSample<T>& sx = xs[ix];
      std::array<T, 4> term{};  // the four weighted corners; zero outside
      if (sy.inside && sx.inside) {
        const T* top = plane + sy.low * width;
        const T* bottom = plane + sy.high * width;
        term = {sy.h * sx.h * top[sx.low], sy.h * sx.l * top[sx.high], sy.l * sx.h * bottom[sx.low],
                sy.l * sx.l * bottom[sx.high]};
      }
      if (max) {
        const T v = std::max(std::max(std::max(term[0], term[1]), term[2]), term[3]);
        result = iy == 0 && ix == 0 ? v : std::max(result, v);
      } else {
        result += term[0] + term[1] + term[2] + term[3];
      }
    }
  return max ? result : result / static_cast<T>(std::max<std::int64_t>(r.grid_h * r.grid_w, 1));
}

template <typename T>
void roi_align(const Tensor& x, const Tensor& rois, const std::vector<std::int64_t>& batch, Tensor& y,
               const RoiAlignAttributes& a, const NodeInfo& info) {
  const std::int64_t channels = x.dim(1), height = x.dim(2), width = x.dim(3), count = rois.dim(0);
  // Every region first, refusing any before the parallel loop.
  std::vector<Region<T>> regions(static_cast<std::size_t>(count));
  const T offset = a.half_pixel ? T(0.5) : T(0);
  std::int64_t samples = 0;  // per channel, over every region
  for (std::int64_t k = 0; k < count; ++k) {
    const T* box = rois.values<T>().data() + 4 * k;  // x1, y1, x2, y2
    Region<T>& r = regions[static_cast<std::size_t>(k)];
    r.start_x = box[0] * a.spatial_scale - offset;
    r.start_y = box[1] * a.spatial_scale - offset;
    T w = box[2] * a.spatial_scale - offset - r.start_x, h = box[3] * a.spatial_scale - offset - r.start_y;
    if (!a.half_pixel) {  // output_half_pixel makes every region at least 1 x 1
      w = std::max(w, T(1));
      h = std::max(h, T(1));
    }
    r.bin_h = h / static_cast<T>(a.height);
    r.bin_w = w / static_cast<T>(a.width);
    const T grid_h = a.sampling_ratio > 0 ? static_cast<T>(a.sampling_ratio) : std::ceil(r.bin_h);
    const T grid_w = a.sampling_ratio > 0 ? static_cast<T>(a.sampling_ratio) : std::ceil(r.bin_w);
    const T limit = static_cast<T>(kMaxAxisSamples);
    if (!(grid_h * static_cast<T>(a.height) <= limit && grid_w * static_cast<T>(a.width) <= limit))
      info.fail("rois[{}] = [{}, {}, {}, {}] needs a {} x {} sampling grid per bin, more than {} samples along an axis", k,
                box[0], box[1], box[2], box[3], grid_h, grid_w, kMaxAxisSamples);
    r.grid_h = grid_h > 0 ? static_cast<std::int64_t>(grid_h) : 0;  // none for an empty half_pixel region
    r.grid_w = grid_w > 0 ? static_cast<std::int64_t>(grid_w) : 0;
    samples += a.height * a.width * r.grid_h * r.grid_w;
  }
  const T* in = x.values<T>().data();
  T* out = y.values<T>().data();
  const std::int64_t bins = a.height * a.width, per_item = std::max<std::int64_t>(1, samples / std::max<std::int64_t>(count, 1));
  // Over (region, channel) pairs; a thread finds a region's samples once for its channels.
  parallel_for(count * channels, std::max<std::int64_t>(1, 4096 / per_item), [&](std::int64_t begin, std::int64_t end) {
    std::vector<AxisSample<T>> ys, xs;
    std::int64_t current = -1;
    for (std::int64_t i = begin; i < end; ++i) {
      const std::int64_t k = i / channels, c = i % channels;
      const Region<T>& r = regions[static_cast<std::size_t>(k)];
      if (k != current) {
        axis_samples(r.start_y, r.bin_h, r.grid_h, a.height, height, ys);
        axis_samples(r.start_x, r.bin_w, r.grid_w, a.width, width, xs);
        current = k;
      }
      const T* plane = in + (batch[static_cast<std::size_t>(k)] * channels + c) * height * width;
      T* o = out + i * bins;
      for (std::int64_t ph = 0; ph < a.height; ++ph)
        for (std::int64_t pw = 0; pw < a.width; ++pw)
          o[ph * a.width + pw] = pool_bin(plane, width, ys.data() + ph * r.grid_h, xs.data() + pw * r.grid_w, r, a.max);
    }
  });
}

std::unique_ptr<Kernel> make_roi_align(const Node& node, std::int64_t opset) {
  NodeInfo info(node);
  RoiAlignAttributes a;
  const std::string mode = node.get_string("mode", "avg");
  if (mode != "avg" && mode != "max") info.unsupported("mode '{}'", mode);
  a.max = mode == "max";
  const std::string transform =
      opset >= 16 ? node.get_string("coordinate_transformation_mode", "half_pixel") : "output_half_pixel";
  if (transform != "half_pixel" && transform != "output_half_pixel")
    info.unsupported("coordinate_transformation_mode '{}'", transform);
  a.half_pixel = transform == "half_pixel";
  a.height = node.get_int("output_height", 1);
  a.width = node.get_int("output_width", 1);
  a.sampling_ratio = node.get_int("sampling_ratio", 0);
  a.spatial_scale = node.get_float("spatial_scale", 1.0f);
  if (a.height < 1 || a.width < 1) info.fail("output_height {} and output_width {} must be positive", a.height, a.width);
  if (a.sampling_ratio < 0) info.fail("sampling_ratio {} is negative", a.sampling_ratio);
  return make_function_kernel([info, a](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const Tensor& rois = info.input(inputs, 1);
    const Tensor& indices = info.input(inputs, 2);
    if (x.rank() != 4) info.fail("X has shape {}, expected N x C x H x W", shape_string(x.shape()));
    if (rois.rank() != 2 || rois.dim(1) != 4)
      info.fail("rois has shape {}, expected num_rois x 4", shape_string(rois.shape()));
    info.expect_dtype(rois, x.dtype(), "rois");
    if (indices.rank() != 1 || indices.dim(0) != rois.dim(0))
      info.fail("batch_indices has shape {}, expected [{}] as rois has {} regions", shape_string(indices.shape()),
                rois.dim(0), rois.dim(0));
    const std::vector<std::int64_t> batch = info.ints(indices, "batch_indices");
    for (std::size_t k = 0; k < batch.size(); ++k)
      if (batch[k] < 0 || batch[k] >= x.dim(0))
        info.fail("batch_indices[{}] = {} is outside [0, {})", k, batch[k], x.dim(0));
    Tensor y = allocate_checked(x.dtype(), {rois.dim(0), x.dim(1), a.height, a.width}, info);
    if (y.numel() == 0) return one(std::move(y));
    if (x.dim(2) == 0 || x.dim(3) == 0) info.fail("X has shape {}, no pixels to sample", shape_string(x.shape()));
    visit_dtype<FloatTypes>(x.dtype(), [&](auto tag) { roi_align<decltype(tag)>(x, rois, batch, y, a, info); });
    return one(std::move(y));
  });
}

}  // namespace

void add_sampling_kernels(KernelTable& t) {
  t.add("GridSample", make_grid_sample, {16, kNewestOpset}, dtypes(FloatTypes{}));
  t.add("RoiAlign", make_roi_align, {10, kNewestOpset}, dtypes(FloatTypes{}));
}

}  // namespace cpuinfer::engine
