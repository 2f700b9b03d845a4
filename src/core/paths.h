// Where cpuinfer finds its cache (models, built-in data) and its export tooling.
#pragma once

#include <filesystem>

namespace cpuinfer {

// $CPUINFER_CACHE if set, else the .cache folder of the source tree setup.sh filled.
std::filesystem::path default_cache_dir();
// The folder of files cpuinfer derives from `source` (its int8 model, ORT's graph counts):
// <cache>/derived/<source file name>-<hash of its absolute path>/, made if needed. Never beside
// the source, whose folder may be read-only or the user's own. Throws cpuinfer::Error naming the
// folder if it cannot be made.
std::filesystem::path derived_folder(const std::filesystem::path& source);
// tools/export_models.py of the source tree.
std::filesystem::path export_tool();
// The npm packages setup.sh installed (vega, vega-lite, vega-embed for report charts):
// $CPUINFER_NPM if set, else .deps/npm of the source tree.
std::filesystem::path chart_library_dir();
// Creates `folder` if needed and checks that a file can be made in it; throws cpuinfer::Error
// naming `flag`, the folder and the reason ("--out /x: cannot create folder: Permission denied").
void check_writable_folder(const std::filesystem::path& folder, const char* flag);
// The Python interpreter that has torch, torchvision and onnx (Debian's).
std::filesystem::path python_interpreter();

}  // namespace cpuinfer
