// Labelled image folders in the Imagenette / ImageNet layout: <root>/val/<class>/<image>, where
// <class> is an Imagenette wnid (mapped to its ImageNet-1k index) or an ImageNet index 0..999.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cpuinfer {

struct LabelledFile {
  std::filesystem::path path;
  int label = -1;  // ImageNet-1k class index
};

// All images (.jpg/.jpeg/.png, any case) under the class folders of `root`, which is either the
// data set root holding val/ or the folder holding the class folders. Sorted by class, then name.
// Throws cpuinfer::Error naming the folder if it is missing, empty, or has an unknown class folder.
std::vector<LabelledFile> list_image_folder(const std::filesystem::path& root);

// ImageNet-1k index of an Imagenette wnid, or -1.
int imagenette_class_index(const std::string& wnid);

}  // namespace cpuinfer
