// Bilinear resampling with PIL's algorithm (Pillow Resample.c): a triangle filter widened by the
// down-scale factor (so it antialiases), 8-bit fixed-point coefficients, horizontal pass first,
// each pass rounded to uint8. torchvision resizes PIL images with it, so matching it bit for bit
// is what makes our preprocessing equal to the study's.
#pragma once

#include "data/image.h"

namespace cpuinfer {

Image resize_bilinear(const Image& in, int out_width, int out_height);

}  // namespace cpuinfer
