// torchvision's ImageClassification preprocessing for PIL images: resize the shorter side
// (bilinear), center crop, scale to [0, 1], normalise per channel. Output is CHW float32.
#pragma once

#include <array>
#include <span>

#include "data/image.h"

namespace cpuinfer {

struct ImagePreprocess {
  int resize = 232;  // shorter side after resizing (IMAGENET1K_V2 weights; V1 used 256)
  int crop = 224;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
};

// Writes 3 * crop * crop floats to `out`.
void preprocess_image(const Image& image, const ImagePreprocess& p, std::span<float> out);

}  // namespace cpuinfer
