// Image: 8-bit RGB pixels, interleaved, row-major: what decoding produces and resampling consumes.
#pragma once

#include <cstdint>
#include <vector>

namespace cpuinfer {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;  // width * height * 3

  const std::uint8_t* row(int y) const { return rgb.data() + static_cast<std::size_t>(y) * width * 3; }
  std::uint8_t* row(int y) { return rgb.data() + static_cast<std::size_t>(y) * width * 3; }
};

}  // namespace cpuinfer
