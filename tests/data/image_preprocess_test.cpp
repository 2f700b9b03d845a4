// Preprocessing equals torchvision's: the fixtures were made by torchvision's own ResNet-101
// weight transforms on PIL images (tools/make_images.py), for JPEG (4:2:0, 4:4:4, gray, CMYK) and
// PNG (RGB, RGBA, palette), for both resize rules (232 for IMAGENET1K_V2, 256 for V1).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "data/image_decode.h"
#include "data/image_preprocess.h"
#include "data/image_resample.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

constexpr float kTolerance = 1e-5f;

TEST(ImagePreprocess, MatchesTorchvisionOnEveryFixture) {
  const auto dir = testing::preprocess_fixtures();
  const auto manifest = nlohmann::json::parse(testing::read_text(dir / "manifest.json"));
  ASSERT_GE(manifest.at("cases").size(), 10u);
  for (const auto& c : manifest.at("cases")) {
    SCOPED_TRACE(c.at("reference").get<std::string>());
    ImagePreprocess p;
    p.resize = c.at("resize");
    p.crop = c.at("crop");
    p.mean = c.at("mean").get<std::array<float, 3>>();
    p.std = c.at("std").get<std::array<float, 3>>();
    const std::string raw = testing::read_text(dir / c.at("reference").get<std::string>());
    ASSERT_EQ(raw.size(), 3u * p.crop * p.crop * sizeof(float));
    std::vector<float> expected(raw.size() / sizeof(float));
    std::memcpy(expected.data(), raw.data(), raw.size());

    std::vector<float> actual(expected.size(), std::nanf(""));
    preprocess_image(decode_image(dir / c.at("image").get<std::string>()), p, actual);
    EXPECT_LE(testing::max_abs_difference(actual, expected), kTolerance);
  }
}

TEST(ImageResample, SameSizeIsIdentity) {
  Image in{5, 4, std::vector<std::uint8_t>(5 * 4 * 3)};
  for (std::size_t i = 0; i < in.rgb.size(); ++i) in.rgb[i] = static_cast<std::uint8_t>(i * 7);
  EXPECT_EQ(resize_bilinear(in, 5, 4).rgb, in.rgb);
}

TEST(ImageResample, ConstantImageStaysConstant) {
  Image in{37, 23, std::vector<std::uint8_t>(37 * 23 * 3, 200)};
  for (auto [w, h] : {std::pair{11, 7}, std::pair{80, 50}, std::pair{37, 5}}) {
    Image out = resize_bilinear(in, w, h);
    ASSERT_EQ(out.rgb.size(), static_cast<std::size_t>(w) * h * 3);
    for (auto v : out.rgb) ASSERT_EQ(v, 200);
  }
}

TEST(ImagePreprocess, RejectsExtremeAspectRatios) {
  // 1 x 20000 would need a 232 x 4.6M image after resizing.
  Image in{1, 20000, std::vector<std::uint8_t>(20000 * 3, 7)};
  std::vector<float> out(3 * 224 * 224);
  EXPECT_THROW(preprocess_image(in, ImagePreprocess{}, out), Error);
}

TEST(ImagePreprocess, RejectsWrongOutputSize) {
  Image in{300, 300, std::vector<std::uint8_t>(300 * 300 * 3, 1)};
  std::vector<float> out(10);
  EXPECT_THROW(preprocess_image(in, ImagePreprocess{}, out), Error);
}

}  // namespace
}  // namespace cpuinfer
