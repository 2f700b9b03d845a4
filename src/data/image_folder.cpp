// Listing, labelling and sampling image folders.
#include "data/image_folder.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "core/error.h"

namespace fs = std::filesystem;

namespace cpuinfer {

int imagenette_class_index(const std::string& wnid) {
  static const std::map<std::string, int> kIndex = {
      {"n01440764", 0},   {"n02102040", 217}, {"n02979186", 482}, {"n03000684", 491}, {"n03028079", 497},
      {"n03394916", 566}, {"n03417042", 569}, {"n03425413", 571}, {"n03445777", 574}, {"n03888605", 701}};
  auto it = kIndex.find(wnid);
  return it == kIndex.end() ? -1 : it->second;
}

namespace {
int class_label(const fs::path& folder) {
  const std::string name = folder.filename().string();
  if (int index = imagenette_class_index(name); index >= 0) return index;
  int index = -1;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), index);
  if (ec == std::errc() && end == name.data() + name.size() && index >= 0 && index < 1000) return index;
  fail("unknown class folder {}: expected an Imagenette wnid (e.g. n01440764) or an ImageNet index 0..999",
       folder.string());
}

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}
}  // namespace

std::vector<LabelledFile> list_image_folder(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) fail("data folder not found: {}", root.string());
  const fs::path classes_root = fs::is_directory(root / "val", ec) ? root / "val" : root;
  std::vector<fs::path> class_dirs;
  for (const auto& entry : fs::directory_iterator(classes_root))
    if (entry.is_directory()) class_dirs.push_back(entry.path());
  std::sort(class_dirs.begin(), class_dirs.end());
  std::vector<LabelledFile> files;
  for (const auto& dir : class_dirs) {
    const int label = class_label(dir);
    std::vector<fs::path> images;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_regular_file() && is_image(entry.path())) images.push_back(entry.path());
    std::sort(images.begin(), images.end());
    for (auto& p : images) files.push_back({std::move(p), label});
  }
  if (files.empty())
    fail("no images in data folder {}: expected <root>/val/<class>/*.JPEG (Imagenette layout)", root.string());
  return files;
}

}  // namespace cpuinfer
