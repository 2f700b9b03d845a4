// Paths fixed at build time (CPUINFER_SOURCE_DIR), overridable by the environment.
#include "core/paths.h"

#include <cstdlib>

namespace cpuinfer {

std::filesystem::path default_cache_dir() {
  if (const char* env = std::getenv("CPUINFER_CACHE"); env && *env) return env;
  return std::filesystem::path(CPUINFER_SOURCE_DIR) / ".cache";
}

std::filesystem::path export_tool() { return std::filesystem::path(CPUINFER_SOURCE_DIR) / "tools" / "export_models.py"; }

std::filesystem::path chart_library_dir() {
  if (const char* env = std::getenv("CPUINFER_NPM"); env && *env) return env;
  return std::filesystem::path(CPUINFER_SOURCE_DIR) / ".deps" / "npm";
}

std::filesystem::path python_interpreter() {
  if (const char* env = std::getenv("CPUINFER_PYTHON"); env && *env) return env;
  return "/usr/bin/python3";
}

}  // namespace cpuinfer
