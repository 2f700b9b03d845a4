// Where cpuinfer finds its cache (models, built-in data) and its export tooling.
#pragma once

#include <filesystem>

namespace cpuinfer {

// $CPUINFER_CACHE if set, else the .cache folder of the source tree setup.sh filled.
std::filesystem::path default_cache_dir();
// tools/export_models.py of the source tree.
std::filesystem::path export_tool();
// The Python interpreter that has torch, torchvision and onnx (Debian's).
std::filesystem::path python_interpreter();

}  // namespace cpuinfer
