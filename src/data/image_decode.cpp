// JPEG through the TurboJPEG API, PNG through libpng's simplified API; format chosen by content.
#include "data/image_decode.h"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string_view>

#include "core/error.h"

namespace cpuinfer {

namespace {

static_assert(kMaxImagePixels == 2 * ((std::size_t{1} << 30) / 4 / 3), "PIL's MAX_IMAGE_PIXELS * 2");

// An image of more than `max_pixels`: refused before anything is allocated for it.
void check_pixels(const std::string& name, std::size_t width, std::size_t height, std::size_t max_pixels) {
  if (width * height <= max_pixels) return;
  if (max_pixels == kMaxImagePixels)
    fail("image {} is {}x{}, over {} pixels (PIL's decompression bomb limit)", name, width, height, max_pixels);
  fail("image {} is {}x{}, over the limit of {} pixels", name, width, height, max_pixels);
}

// The beginnings of libjpeg's warnings (jerror.h, JWRN_*) but JWRN_JPEG_EOF ("Premature end of
// JPEG file"): damage it decodes past. Its errors are fatal.
constexpr std::string_view kJpegWarnings[] = {
    "Corrupt JPEG data: ",  // extraneous bytes, end of a data segment, bad Huffman/arithmetic code, RST, ICC
    "Unknown Adobe color transform code", "Inconsistent progression sequence", "Warning: unknown JFIF revision",
    "Invalid SOS parameters for sequential JPEG", "Application transferred too many scanlines"};

std::vector<unsigned char> read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open image {}", file.string());
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return bytes;
}

// PIL's CMYK -> RGB conversion (Convert.c cmyk2rgb) on PIL's CMYK values (0 = no ink).
std::uint8_t cmyk_channel(int ink, int nk) {
  int t = ink * nk + 128;
  int v = nk - (((t >> 8) + t) >> 8);
  return static_cast<std::uint8_t>(std::clamp(v, 0, 255));
}

// Whether the JPEG's markers, followed from SOI through its segments and entropy-coded data,
// reach EOI. libjpeg fills a file that ends early with gray and warns, but only its first warning
// reaches TurboJPEG's message, so "Premature end of JPEG file" after stray bytes went unseen; PIL
// calls both a truncated image. Skips what libjpeg skips: bytes before a marker, fill bytes.
bool jpeg_reaches_end_marker(std::span<const std::uint8_t> bytes) {
  std::size_t pos = 2;  // after SOI
  while (true) {
    while (pos + 1 < bytes.size() && !(bytes[pos] == 0xff && bytes[pos + 1] != 0xff && bytes[pos + 1] != 0x00)) ++pos;
    if (pos + 1 >= bytes.size()) return false;
    const std::uint8_t marker = bytes[pos + 1];
    pos += 2;
    if (marker == 0xd9) return true;                                                 // EOI
    if (marker == 0x01 || marker == 0xd8 || (marker >= 0xd0 && marker <= 0xd7)) continue;  // no length
    if (pos + 2 > bytes.size()) return false;
    pos += static_cast<std::size_t>(bytes[pos]) << 8 | bytes[pos + 1];  // the length counts itself
    // After a scan header, entropy-coded data run to the next marker (0xff 0x00 is a stuffed 0xff, and
    // RSTn sit inside the data), which the loop's scan finds the same way.
  }
}

Image decode_jpeg(const std::string& name, std::span<const std::uint8_t> bytes, std::size_t max_pixels) {
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), tjDestroy);
  if (!tj) fail("cannot start JPEG decoder: {}", tjGetErrorStr2(nullptr));
  // libjpeg decodes past recoverable damage (its warnings, e.g. extraneous bytes before a marker),
  // and so does PIL. TurboJPEG 2.1 reports a fatal error that follows a warning as a warning too (a
  // fuzzed file with stray bytes, then an undefined quantization table, came back as a blank image
  // where PIL fails), so the message decides: only libjpeg's warnings pass.
  auto check = [&](int status) {
    if (status == 0) return;
    const std::string message = tjGetErrorStr2(tj.get());
    const bool warning = std::any_of(std::begin(kJpegWarnings), std::end(kJpegWarnings),
                                     [&](std::string_view w) { return message.starts_with(w); });
    if (tjGetErrorCode(tj.get()) != TJERR_WARNING || !warning) fail("corrupt image {}: {}", name, message);
  };
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  check(tjDecompressHeader3(tj.get(), bytes.data(), bytes.size(), &width, &height, &subsampling, &colorspace));
  // A file that ends early, PIL calls truncated: so do we, whatever libjpeg warned first.
  if (!jpeg_reaches_end_marker(bytes)) fail("corrupt image {}: Premature end of JPEG file (no EOI marker)", name);
  if (width <= 0 || height <= 0) fail("corrupt image {}: implausible size {}x{}", name, width, height);
  const std::size_t pixels = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  check_pixels(name, static_cast<std::size_t>(width), static_cast<std::size_t>(height), max_pixels);
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  // Not zeroed: libjpeg writes every pixel or fails, and a failing file whose header promises
  // 20000x10000 pixels (fuzzing found one of 185 bytes, which took 1.7 GB and 20 s to refuse) then
  // costs address space, not memory or time.
  const std::unique_ptr<unsigned char[]> decoded(new unsigned char[pixels * (cmyk ? 4 : 3)]);
  // Accurate integer DCT and fancy upsampling: libjpeg's defaults, which PIL uses too. At most 500
  // progressive scans: a small hostile file of thousands of scans would otherwise take minutes.
  check(tjDecompress2(tj.get(), bytes.data(), bytes.size(), decoded.get(), width, 0, height,
                      cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS));
  Image image{width, height, {}};
  if (!cmyk) {
    image.rgb.assign(decoded.get(), decoded.get() + pixels * 3);
    return image;
  }
  // Adobe CMYK JPEGs store inverted ink values; PIL reads them as "CMYK;I", i.e. ink = 255 - stored.
  image.rgb.resize(pixels * 3);
  for (std::size_t p = 0; p < pixels; ++p) {
    const unsigned char* s = &decoded[p * 4];
    int nk = s[3];  // 255 - ink_k = stored k
    for (int c = 0; c < 3; ++c) image.rgb[p * 3 + c] = cmyk_channel(255 - s[c], nk);
  }
  return image;
}

// The fewest bytes of compressed image data a PNG of this header can have: its rows at their bit
// depth and channel count, over deflate's largest ratio (1032:1). 0 if the header is not where
// libpng, which has read it, requires it.
std::size_t min_png_data_bytes(std::span<const std::uint8_t> bytes, std::size_t pixels) {
  if (bytes.size() < 26 || std::memcmp(bytes.data() + 12, "IHDR", 4) != 0) return 0;
  const unsigned depth = bytes[24], colour_type = bytes[25];
  const unsigned channels = colour_type == 2 ? 3 : colour_type == 4 ? 2 : colour_type == 6 ? 4 : 1;
  return pixels / 8 * depth * channels / 1032;
}

Image decode_png(const std::string& name, std::span<const std::uint8_t> bytes, std::size_t max_pixels) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  // Frees libpng's state on every way out (the simplified API frees it itself only on its errors).
  const std::unique_ptr<png_image, void (*)(png_image*)> release(&png, png_image_free);
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
    fail("corrupt image {}: {}", name, png.message);
  if (png.width == 0 || png.height == 0) fail("corrupt image {}: implausible size {}x{}", name, png.width, png.height);
  const std::size_t pixels = std::size_t{png.width} * png.height;
  check_pixels(name, png.width, png.height, max_pixels);
  // A header promising more rows than the file could inflate to is refused before the buffers for
  // them are made.
  if (const std::size_t needed = min_png_data_bytes(bytes, pixels); needed > bytes.size())
    fail("corrupt image {}: a {}x{} PNG needs at least {} bytes of compressed data, the file has {} (truncated?)", name,
         png.width, png.height, needed, bytes.size());
  // PIL's convert("RGB") drops alpha without compositing and expands gray and palettes; the
  // simplified API does the same when the output format has no alpha and no background is given...
  // except that it composites onto black. Read with alpha and drop it instead.
  png.format = PNG_FORMAT_RGBA;
  Image image{static_cast<int>(png.width), static_cast<int>(png.height), {}};
  // Not zeroed: libpng writes every row, or fails. Sized here, not by PNG_IMAGE_SIZE, whose 32-bit
  // arithmetic would wrap past 1 Gpixel under a caller's larger limit.
  const std::unique_ptr<std::uint8_t[]> rgba(new std::uint8_t[pixels * 4]);
  if (!png_image_finish_read(&png, nullptr, rgba.get(), 0, nullptr))
    fail("corrupt image {}: {}", name, png.message);
  image.rgb.resize(pixels * 3);
  for (std::size_t p = 0; p < pixels; ++p) std::memcpy(&image.rgb[p * 3], &rgba[p * 4], 3);
  return image;
}

}  // namespace

Image decode_image(const std::filesystem::path& file) {
  const std::vector<unsigned char> bytes = read_file(file);
  return decode_image_bytes(bytes, file.string());
}

Image decode_image_bytes(std::span<const std::uint8_t> bytes, const std::string& name, std::size_t max_pixels) {
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.empty()) fail("corrupt image {}: empty file", name);
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
    return decode_jpeg(name, bytes, max_pixels);
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0) return decode_png(name, bytes, max_pixels);
  fail("unsupported image {}: neither JPEG nor PNG", name);
}

}  // namespace cpuinfer
