// Paths fixed at build time (CPUINFER_SOURCE_DIR), overridable by the environment.
#include "core/paths.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "core/error.h"
#include "core/hash.h"

namespace cpuinfer {

std::filesystem::path default_cache_dir() {
  if (const char* env = std::getenv("CPUINFER_CACHE"); env && *env) return env;
  return std::filesystem::path(CPUINFER_SOURCE_DIR) / ".cache";
}

std::filesystem::path derived_folder(const std::filesystem::path& source) {
  const std::string absolute = std::filesystem::absolute(source).lexically_normal().string();
  Hash key;
  key.add(absolute.data(), absolute.size());
  const std::filesystem::path folder =
      default_cache_dir() / "derived" / fmt::format("{}-{:016x}", source.filename().string(), key.h);
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) fail("cannot make the folder of derived files {}: {} (set CPUINFER_CACHE to a writable folder)", folder.string(), ec.message());
  return folder;
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

void check_writable_folder(const std::filesystem::path& folder, const char* flag) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) fail("{} {}: cannot create the folder: {}", flag, folder.string(), ec.message());
  if (!std::filesystem::is_directory(folder)) fail("{} {}: not a folder", flag, folder.string());
  std::string probe = (folder / ".cpuinfer-write-test-XXXXXX").string();
  const int fd = mkstemp(probe.data());
  if (fd < 0) fail("{} {}: cannot write there: {}", flag, folder.string(), strerror(errno));
  close(fd);
  unlink(probe.c_str());
}

}  // namespace cpuinfer
