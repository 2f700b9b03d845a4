// Decoding image files (JPEG with libjpeg-turbo, PNG with libpng) to RGB, converting other colour
// modes the way PIL's Image.convert("RGB") does, as torchvision's image loader uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "data/image.h"

namespace cpuinfer {

// Throws cpuinfer::Error naming the file if it is missing, not a JPEG/PNG, or corrupt.
Image decode_image(const std::filesystem::path& file);
// PIL's decompression-bomb limit (2 * Image.MAX_IMAGE_PIXELS, where PIL.Image.open raises): an
// image torchvision's loader cannot open, we refuse too.
inline constexpr std::size_t kMaxImagePixels = 178'956'970;

// The same on a file's bytes already in memory; `name` names them in errors. decode_image reads
// the file and calls this. Images of more than `max_pixels` are refused before decoding.
Image decode_image_bytes(std::span<const std::uint8_t> bytes, const std::string& name,
                         std::size_t max_pixels = kMaxImagePixels);

}  // namespace cpuinfer
