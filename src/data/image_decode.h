// Decoding image files (JPEG with libjpeg-turbo, PNG with libpng) to RGB, converting other colour
// modes the way PIL's Image.convert("RGB") does, as torchvision's image loader uses it.
#pragma once

#include <filesystem>

#include "data/image.h"

namespace cpuinfer {

// Throws cpuinfer::Error naming the file if it is missing, not a JPEG/PNG, or corrupt.
Image decode_image(const std::filesystem::path& file);

}  // namespace cpuinfer
