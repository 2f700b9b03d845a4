// Image decoding: formats, and bad files refused with an error that names the file.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "core/error.h"
#include "data/image_decode.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

std::string error_of(const std::filesystem::path& file) {
  try {
    decode_image(file);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string error_of_bytes(const std::string& bytes, const std::string& name) {
  try {
    decode_image_bytes(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), name);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A generated JPEG's bytes, and where its baseline frame header (SOF0) starts.
std::string generated_jpeg(int width, int height, std::size_t& sof) {
  testing::TempDir tmp;
  testing::write_jpeg(tmp.path() / "a.jpg", width, height, 3);
  std::string bytes = testing::read_text(tmp.path() / "a.jpg");
  sof = bytes.find("\xff\xc0");
  EXPECT_NE(sof, std::string::npos);
  EXPECT_EQ(bytes.substr(sof + 2, 2), std::string("\x00\x11", 2));  // 3 components
  return bytes;
}

void set_jpeg_size(std::string& bytes, std::size_t sof, int width, int height) {
  bytes[sof + 5] = static_cast<char>(height >> 8);
  bytes[sof + 6] = static_cast<char>(height & 0xff);
  bytes[sof + 7] = static_cast<char>(width >> 8);
  bytes[sof + 8] = static_cast<char>(width & 0xff);
}

TEST(ImageDecode, DecodesGeneratedJpeg) {
  testing::TempDir tmp;
  testing::write_jpeg(tmp.path() / "a.jpg", 64, 48, 1);
  Image image = decode_image(tmp.path() / "a.jpg");
  EXPECT_EQ(image.width, 64);
  EXPECT_EQ(image.height, 48);
  EXPECT_EQ(image.rgb.size(), 64u * 48 * 3);
}

TEST(ImageDecode, TruncatedJpegNamesTheFile) {
  testing::TempDir tmp;
  testing::write_jpeg(tmp.path() / "whole.jpg", 64, 48, 1);
  std::string bytes = testing::read_text(tmp.path() / "whole.jpg");
  testing::write_bytes(tmp.path() / "cut.jpg", {bytes.begin(), bytes.begin() + bytes.size() / 2});
  const std::string message = error_of(tmp.path() / "cut.jpg");
  EXPECT_NE(message.find("corrupt image"), std::string::npos) << message;
  EXPECT_NE(message.find("cut.jpg"), std::string::npos) << message;
}

TEST(ImageDecode, RecoverableJpegWarningsAreTolerated) {
  // Two stray bytes after the JFIF segment, before the next marker: libjpeg warns ("extraneous bytes
  // before marker") and decodes, as PIL does.
  testing::TempDir tmp;
  testing::write_jpeg(tmp.path() / "a.jpg", 40, 30, 2);
  std::string bytes = testing::read_text(tmp.path() / "a.jpg");
  ASSERT_EQ(bytes.substr(2, 2), "\xff\xe0");  // SOI, then APP0 of length 16 up to offset 20
  bytes.insert(20, std::string("\x00\x00", 2));
  testing::write_bytes(tmp.path() / "stray.jpg", {bytes.begin(), bytes.end()});
  const Image image = decode_image(tmp.path() / "stray.jpg");
  EXPECT_EQ(image.width, 40);
  EXPECT_EQ(image.rgb, decode_image(tmp.path() / "a.jpg").rgb);
}

TEST(ImageDecode, GarbageAfterJpegMagicIsAnError) {
  testing::TempDir tmp;
  testing::write_bytes(tmp.path() / "bad.jpg", {0xff, 0xd8, 0xff, 0x00, 0x12, 0x34});
  EXPECT_NE(error_of(tmp.path() / "bad.jpg").find("bad.jpg"), std::string::npos);
}

TEST(ImageDecode, NotAnImage) {
  testing::TempDir tmp;
  testing::write_bytes(tmp.path() / "x.jpg", {'h', 'e', 'l', 'l', 'o'});
  EXPECT_NE(error_of(tmp.path() / "x.jpg").find("neither JPEG nor PNG"), std::string::npos);
  testing::write_bytes(tmp.path() / "empty.png", {});
  EXPECT_NE(error_of(tmp.path() / "empty.png").find("empty file"), std::string::npos);
  EXPECT_NE(error_of(tmp.path() / "missing.jpg").find("cannot open image"), std::string::npos);
}

TEST(ImageDecode, TruncatedPngNamesTheFile) {
  const std::string bytes = testing::read_text(testing::preprocess_fixtures() / "alpha.png");
  testing::TempDir tmp;
  testing::write_bytes(tmp.path() / "cut.png", {bytes.begin(), bytes.begin() + bytes.size() / 3});
  EXPECT_NE(error_of(tmp.path() / "cut.png").find("cut.png"), std::string::npos);
}

TEST(ImageDecode, FatalJpegErrorAfterAWarningIsAnError) {
  // Fuzzing found this: stray bytes (a recoverable warning), then a component whose quantization
  // table is not defined (fatal). TurboJPEG reports the fatal error as a warning, and the file came
  // back as a blank image; PIL refuses it ("broken data stream").
  std::size_t sof = 0;
  std::string bytes = generated_jpeg(64, 48, sof);
  bytes[sof + 12] = 3;  // the first component's quantization table: 3, never defined
  bytes.insert(20, std::string("\x00\x00", 2));
  const std::string message = error_of_bytes(bytes, "fatal.jpg");
  EXPECT_NE(message.find("corrupt image fatal.jpg: Quantization table 0x03 was not defined"), std::string::npos)
      << message;
}

TEST(ImageDecode, TruncatedJpegIsAnErrorEvenAfterARecoverableWarning) {
  // Fuzzing found this: TurboJPEG keeps only libjpeg's first warning, so stray bytes before a marker
  // hid "Premature end of JPEG file", and a file cut short decoded with gray in place of its end.
  // PIL calls it truncated.
  std::size_t sof = 0;
  std::string bytes = generated_jpeg(64, 48, sof);
  bytes.insert(20, std::string("\x00\x00", 2));
  bytes.resize(bytes.size() * 3 / 4);
  const std::string message = error_of_bytes(bytes, "cut.jpg");
  EXPECT_NE(message.find("corrupt image cut.jpg: Premature end of JPEG file"), std::string::npos) << message;
  // A complete file with stray bytes, and one with bytes after its end, still decode (as in PIL).
  bytes = generated_jpeg(64, 48, sof);
  bytes.insert(20, std::string("\x00\x00", 2));
  EXPECT_EQ(error_of_bytes(bytes, "stray.jpg"), "");
  EXPECT_EQ(error_of_bytes(bytes + "trailing", "trailing.jpg"), "");
}

TEST(ImageDecode, HugeJpegHeadersAreRefused) {
  // Fuzzing found this: 185 bytes whose header says 20232x11777 took 1.7 GB and 20 s to refuse.
  std::size_t sof = 0;
  std::string bytes = generated_jpeg(64, 48, sof);
  // Beyond PIL's decompression-bomb limit nothing is decoded (the old limit, 2^28, let this through).
  set_jpeg_size(bytes, sof, 16384, 16384);
  EXPECT_NE(error_of_bytes(bytes, "bomb.jpg").find("image bomb.jpg is 16384x16384, over 178956970 pixels"),
            std::string::npos)
      << error_of_bytes(bytes, "bomb.jpg");
  // A caller's own limit.
  try {
    const std::string small = generated_jpeg(64, 48, sof);
    decode_image_bytes(std::span(reinterpret_cast<const std::uint8_t*>(small.data()), small.size()), "small.jpg", 3000);
    ADD_FAILURE() << "a 64x48 image passed a limit of 3000 pixels";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("image small.jpg is 64x48, over the limit of 3000 pixels"), std::string::npos)
        << e.what();
  }
  // Under the limit, a file that ends early fails before decoding anything.
  set_jpeg_size(bytes, sof, 12000, 12000);
  bytes.resize(bytes.size() - 10);
  EXPECT_NE(error_of_bytes(bytes, "huge.jpg").find("corrupt image huge.jpg: Premature end of JPEG file (no EOI marker)"),
            std::string::npos)
      << error_of_bytes(bytes, "huge.jpg");
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

TEST(ImageDecode, InputsTheFuzzerFoundAreRefusedAtOnce) {
  // scripts/fuzz.sh image_decode's finds, as found (tests/data/fixtures/fuzz/). Each took 10 s or
  // more and up to 1.7 GB before it was refused (or, for the second, decoded with gray filling).
  const auto fixture = std::filesystem::path(__FILE__).parent_path() / "fixtures" / "fuzz";
  const std::string huge = error_of(fixture / "jpeg_20232x11777_in_185_bytes.jpg");
  EXPECT_NE(huge.find("jpeg_20232x11777_in_185_bytes.jpg: Premature end of JPEG file"), std::string::npos) << huge;
  const std::string cut = error_of(fixture / "jpeg_stray_bytes_then_truncated.jpg");
  EXPECT_NE(cut.find("jpeg_stray_bytes_then_truncated.jpg: Premature end of JPEG file"), std::string::npos) << cut;
}

// A PNG chunk: length, type, data, CRC-32 of type and data.
std::string png_chunk(const std::string& type, const std::string& data) {
  std::uint32_t crc = 0xffffffffu;
  for (unsigned char b : type + data) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  crc = ~crc;
  return be32(static_cast<std::uint32_t>(data.size())) + type + data + be32(crc);
}

TEST(ImageDecode, PngHeaderPromisingMoreThanItsDataIsRefusedBeforeAllocating) {
  // 12000x12000 RGBA needs 576 MB of pixels; deflate expands at most 1032-fold, so a file of a few
  // dozen bytes cannot hold them.
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) +
                          png_chunk("IHDR", be32(12000) + be32(12000) + std::string("\x08\x06\x00\x00\x00", 5)) +
                          png_chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) + png_chunk("IEND", "");
  const std::string message = error_of_bytes(png, "huge.png");
  EXPECT_NE(message.find(fmt::format("corrupt image huge.png: a 12000x12000 PNG needs at least 558139 bytes of "
                                     "compressed data, the file has {} (truncated?)",
                                     png.size())),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace cpuinfer
