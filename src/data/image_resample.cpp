// PIL-exact separable bilinear resampling of 8-bit RGB images.
#include "data/image_resample.h"

#include <cmath>
#include <cstdint>

#include "core/error.h"

namespace cpuinfer {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// For each output position: the first input index, the count of inputs, and their fixed-point
// weights (ksize slots per output), computed as Pillow's precompute_coeffs + normalize_coeffs_8bpc.
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> weights;
};

Coefficients precompute(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<std::size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = triangle((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      double w = ww != 0.0 ? k[x] / ww : k[x];
      double fixed = w * (1 << kPrecisionBits);
      c.weights[static_cast<std::size_t>(xx) * c.ksize + x] = static_cast<std::int32_t>(w < 0 ? -0.5 + fixed : 0.5 + fixed);
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

std::uint8_t clip8(std::int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<std::uint8_t>(v >> kPrecisionBits);
}

// Horizontal pass over input rows [row0, row0 + out.height).
void resample_horizontal(const Image& in, int row0, const Coefficients& c, Image& out) {
  for (int y = 0; y < out.height; ++y) {
    const std::uint8_t* src = in.row(row0 + y);
    std::uint8_t* dst = out.row(y);
    for (int xx = 0; xx < out.width; ++xx) {
      const std::int32_t* k = &c.weights[static_cast<std::size_t>(xx) * c.ksize];
      std::int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < c.count[xx]; ++x) {
        const std::uint8_t* p = src + (c.first[xx] + x) * 3;
        s0 += p[0] * k[x];
        s1 += p[1] * k[x];
        s2 += p[2] * k[x];
      }
      dst[xx * 3 + 0] = clip8(s0);
      dst[xx * 3 + 1] = clip8(s1);
      dst[xx * 3 + 2] = clip8(s2);
    }
  }
}

// Vertical pass; `first` is relative to the rows `in` holds (row_offset is subtracted).
void resample_vertical(const Image& in, int row_offset, const Coefficients& c, Image& out) {
  for (int yy = 0; yy < out.height; ++yy) {
    const std::int32_t* k = &c.weights[static_cast<std::size_t>(yy) * c.ksize];
    const int first = c.first[yy] - row_offset;
    std::uint8_t* dst = out.row(yy);
    for (int xx = 0; xx < out.width * 3; ++xx) {
      std::int32_t s = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < c.count[yy]; ++y) s += in.row(first + y)[xx] * k[y];
      dst[xx] = clip8(s);
    }
  }
}

}  // namespace

Image resize_bilinear(const Image& in, int out_width, int out_height) {
  if (in.width <= 0 || in.height <= 0 || out_width <= 0 || out_height <= 0)
    fail("cannot resize a {}x{} image to {}x{}", in.width, in.height, out_width, out_height);
  if (out_width == in.width && out_height == in.height) return in;
  const bool horizontal = out_width != in.width;
  const bool vertical = out_height != in.height;
  Coefficients ch = precompute(in.width, out_width);
  Coefficients cv = precompute(in.height, out_height);
  // Only the input rows the vertical pass reads go through the horizontal pass.
  const int row_first = cv.first.front();
  const int row_last = cv.first.back() + cv.count.back();
  Image out{out_width, out_height, std::vector<std::uint8_t>(static_cast<std::size_t>(out_width) * out_height * 3)};
  if (!vertical) {
    resample_horizontal(in, 0, ch, out);
    return out;
  }
  if (!horizontal) {
    resample_vertical(in, 0, cv, out);
    return out;
  }
  const int rows = row_last - row_first;
  Image tmp{out_width, rows, std::vector<std::uint8_t>(static_cast<std::size_t>(out_width) * rows * 3)};
  resample_horizontal(in, row_first, ch, tmp);
  resample_vertical(tmp, row_first, cv, out);
  return out;
}

}  // namespace cpuinfer
