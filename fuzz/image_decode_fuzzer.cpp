// libFuzzer target: arbitrary bytes as an image file (JPEG through libjpeg-turbo, PNG through
// libpng, chosen by content) through the decoder. Any outcome but an RGB image of the size it
// states, or a cpuinfer::Error, is a bug: a crash, a sanitizer report, a hang or a leak.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "data/image_decode.h"

// At most 4 Mpixel (2048x2048) here. PIL's limit, the default, lets a complete 190-byte file
// decode to 54280x2056 gray CMYK pixels, as PIL does; that takes 0.6 s, but 20 s under the
// sanitizers, past libFuzzer's timeout. A smaller image runs every path the larger would.
constexpr std::size_t kMaxPixels = std::size_t{1} << 22;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const cpuinfer::Image image = cpuinfer::decode_image_bytes(std::span(data, size), "fuzz input", kMaxPixels);
    if (image.width <= 0 || image.height <= 0 ||
        image.rgb.size() != static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3)
      __builtin_trap();
  } catch (const cpuinfer::Error&) {
  }
  return 0;
}
