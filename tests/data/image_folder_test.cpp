// Image folders: labels from class folders, the seeded subset, and errors for bad folders.
#include <gtest/gtest.h>

#include "core/error.h"
#include "data/image_folder.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

TEST(ImageFolder, ListsAndLabelsImagenetteLayout) {
  testing::TempDir tmp;
  testing::write_image_folder(tmp.path(), 3, 2);
  const auto files = list_image_folder(tmp.path());
  ASSERT_EQ(files.size(), 6u);
  EXPECT_EQ(files[0].label, 0);    // n01440764 tench
  EXPECT_EQ(files[2].label, 217);  // n02102040 English springer
  EXPECT_EQ(files[4].label, 482);  // n02979186 cassette player
  // The val/ folder itself is accepted too.
  EXPECT_EQ(list_image_folder(tmp.path() / "val").size(), 6u);
}

TEST(ImageFolder, Errors) {
  testing::TempDir tmp;
  EXPECT_THROW(list_image_folder(tmp.path() / "missing"), Error);
  try {
    list_image_folder(tmp.path());
    FAIL() << "empty folder accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no images"), std::string::npos);
  }
  std::filesystem::create_directories(tmp.path() / "val" / "not_a_class");
  try {
    list_image_folder(tmp.path());
    FAIL() << "unknown class folder accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not_a_class"), std::string::npos);
  }
}

TEST(ImageFolder, NumericClassFolders) {
  testing::TempDir tmp;
  std::filesystem::create_directories(tmp.path() / "val" / "999");
  testing::write_jpeg(tmp.path() / "val" / "999" / "a.png.jpg", 8, 8, 1);
  EXPECT_EQ(list_image_folder(tmp.path()).at(0).label, 999);
}

}  // namespace
}  // namespace cpuinfer
