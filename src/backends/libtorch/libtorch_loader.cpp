// make_libtorch_backend: libcpuinfer_libtorch.so opened once, on first use (libtorch_backend.h).
#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <string>

#include "backends/libtorch/libtorch_backend.h"
#include "core/error.h"

namespace cpuinfer {

namespace {

using MakeBackend = Backend* (*)(int mode, const BackendOptions* options);

constexpr const char* kPlugin = "libcpuinfer_libtorch.so";

// The entry point, or what kept the plugin from loading.
struct Plugin {
  MakeBackend make = nullptr;
  std::string error;
};

const Plugin& plugin() {
  static const Plugin loaded = [] {
    Plugin p;
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    std::string errors;
    for (const std::filesystem::path& dir : {ec ? std::filesystem::path() : self.parent_path(),
                                             std::filesystem::path(CPUINFER_PLUGIN_DIR)}) {
      if (dir.empty() || !std::filesystem::exists(dir / kPlugin)) continue;
      // RTLD_GLOBAL: LibTorch's own libraries find one another's symbols as when linked.
      void* handle = dlopen((dir / kPlugin).c_str(), RTLD_NOW | RTLD_GLOBAL);
      if (!handle) {
        errors += dlerror();
        continue;
      }
      p.make = reinterpret_cast<MakeBackend>(dlsym(handle, "cpuinfer_make_libtorch_backend"));
      if (p.make) return p;
      errors += fmt::format("{}: no cpuinfer_make_libtorch_backend", (dir / kPlugin).string());
    }
    p.error = errors.empty() ? fmt::format("{} is not beside {} nor in {}", kPlugin, self.string(), CPUINFER_PLUGIN_DIR)
                             : errors;
    return p;
  }();
  return loaded;
}

}  // namespace

std::unique_ptr<Backend> make_libtorch_backend(LibtorchMode mode, const BackendOptions& options) {
  const Plugin& p = plugin();
  if (!p.make) throw Unsupported(fmt::format("LibTorch backends are not available: {}", p.error));
  return std::unique_ptr<Backend>(p.make(static_cast<int>(mode), &options));
}

}  // namespace cpuinfer
