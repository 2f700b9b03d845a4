// Resize + center crop + normalise, with torchvision's size and rounding rules.
#include "data/image_preprocess.h"

#include <cmath>
#include <cstdint>

#include "core/error.h"
#include "data/image_resample.h"

namespace cpuinfer {

void preprocess_image(const Image& image, const ImagePreprocess& p, std::span<float> out) {
  const std::size_t plane = static_cast<std::size_t>(p.crop) * p.crop;
  if (out.size() != 3 * plane) fail("preprocessing output holds {} floats, needs {}", out.size(), 3 * plane);
  // torchvision: new_long = int(size * long / short), truncated.
  const bool landscape = image.width > image.height;
  const std::int64_t short_side = landscape ? image.height : image.width;
  const std::int64_t long_side = landscape ? image.width : image.height;
  const double scaled_long = static_cast<double>(p.resize * long_side) / static_cast<double>(short_side);
  // Extreme aspect ratios would need gigabytes after resizing; no photograph has them.
  if (scaled_long > 64 * p.resize) fail("image of {}x{} has an aspect ratio too extreme to resize", image.width, image.height);
  const int new_long = static_cast<int>(scaled_long);
  const int w = landscape ? new_long : p.resize;
  const int h = landscape ? p.resize : new_long;
  Image resized = resize_bilinear(image, w, h);
  if (w < p.crop || h < p.crop) fail("image of {}x{} too small to crop {} after resizing", w, h, p.crop);
  // torchvision: int(round((size - crop) / 2.0)), and Python rounds half to even, as nearbyint does.
  const int top = static_cast<int>(std::nearbyint((h - p.crop) / 2.0));
  const int left = static_cast<int>(std::nearbyint((w - p.crop) / 2.0));
  for (int y = 0; y < p.crop; ++y) {
    const std::uint8_t* src = resized.row(top + y) + static_cast<std::size_t>(left) * 3;
    for (int x = 0; x < p.crop; ++x) {
      for (int c = 0; c < 3; ++c) {
        float v = static_cast<float>(src[x * 3 + c]) / 255.0f;
        out[c * plane + static_cast<std::size_t>(y) * p.crop + x] = (v - p.mean[c]) / p.std[c];
      }
    }
  }
}

}  // namespace cpuinfer
