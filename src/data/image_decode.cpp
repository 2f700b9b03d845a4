// JPEG through the TurboJPEG API, PNG through libpng's simplified API; format chosen by content.
#include "data/image_decode.h"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "core/error.h"

namespace cpuinfer {

namespace {

constexpr std::size_t kMaxPixels = std::size_t{1} << 28;  // 268 Mpixel: refuse absurd headers

std::vector<unsigned char> read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open image {}", file.string());
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) fail("corrupt image {}: empty file", file.string());
  return bytes;
}

// PIL's CMYK -> RGB conversion (Convert.c cmyk2rgb) on PIL's CMYK values (0 = no ink).
std::uint8_t cmyk_channel(int ink, int nk) {
  int t = ink * nk + 128;
  int v = nk - (((t >> 8) + t) >> 8);
  return static_cast<std::uint8_t>(std::clamp(v, 0, 255));
}

Image decode_jpeg(const std::filesystem::path& file, const std::vector<unsigned char>& bytes) {
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), tjDestroy);
  if (!tj) fail("cannot start JPEG decoder: {}", tjGetErrorStr2(nullptr));
  // libjpeg recovers from warnings (e.g. extraneous bytes before a marker), and so does PIL, except
  // at a premature end of data, where PIL reports a truncated image: so do we.
  auto check = [&](int status) {
    if (status == 0) return;
    const std::string message = tjGetErrorStr2(tj.get());
    if (tjGetErrorCode(tj.get()) != TJERR_WARNING || message.find("Premature end") != std::string::npos)
      fail("corrupt image {}: {}", file.string(), message);
  };
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  check(tjDecompressHeader3(tj.get(), bytes.data(), bytes.size(), &width, &height, &subsampling, &colorspace));
  if (width <= 0 || height <= 0 || static_cast<std::size_t>(width) * height > kMaxPixels)
    fail("corrupt image {}: implausible size {}x{}", file.string(), width, height);
  Image image{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height * 3)};
  bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  std::vector<unsigned char> raw(cmyk ? static_cast<std::size_t>(width) * height * 4 : 0);
  unsigned char* dst = cmyk ? raw.data() : image.rgb.data();
  // Accurate integer DCT and fancy upsampling: libjpeg's defaults, which PIL uses too.
  check(tjDecompress2(tj.get(), bytes.data(), bytes.size(), dst, width, 0, height, cmyk ? TJPF_CMYK : TJPF_RGB,
                      TJFLAG_ACCURATEDCT));
  if (cmyk) {
    // Adobe CMYK JPEGs store inverted ink values; PIL reads them as "CMYK;I", i.e. ink = 255 - stored.
    for (std::size_t p = 0; p < static_cast<std::size_t>(width) * height; ++p) {
      const unsigned char* s = &raw[p * 4];
      int nk = s[3];  // 255 - ink_k = stored k
      for (int c = 0; c < 3; ++c) image.rgb[p * 3 + c] = cmyk_channel(255 - s[c], nk);
    }
  }
  return image;
}

Image decode_png(const std::filesystem::path& file, const std::vector<unsigned char>& bytes) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
    fail("corrupt image {}: {}", file.string(), png.message);
  if (png.width == 0 || png.height == 0 || static_cast<std::size_t>(png.width) * png.height > kMaxPixels) {
    png_image_free(&png);
    fail("corrupt image {}: implausible size {}x{}", file.string(), png.width, png.height);
  }
  // PIL's convert("RGB") drops alpha without compositing and expands gray and palettes; the
  // simplified API does the same when the output format has no alpha and no background is given...
  // except that it composites onto black. Read with alpha and drop it instead.
  png.format = PNG_FORMAT_RGBA;
  Image image{static_cast<int>(png.width), static_cast<int>(png.height), {}};
  std::vector<std::uint8_t> rgba(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, rgba.data(), 0, nullptr))
    fail("corrupt image {}: {}", file.string(), png.message);
  image.rgb.resize(static_cast<std::size_t>(image.width) * image.height * 3);
  for (std::size_t p = 0; p < static_cast<std::size_t>(image.width) * image.height; ++p)
    std::memcpy(&image.rgb[p * 3], &rgba[p * 4], 3);
  return image;
}

}  // namespace

Image decode_image(const std::filesystem::path& file) {
  std::vector<unsigned char> bytes = read_file(file);
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) return decode_jpeg(file, bytes);
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0) return decode_png(file, bytes);
  fail("unsupported image {}: neither JPEG nor PNG", file.string());
}

}  // namespace cpuinfer
