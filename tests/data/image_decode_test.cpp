// Image decoding: formats, and bad files refused with an error that names the file.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace cpuinfer
