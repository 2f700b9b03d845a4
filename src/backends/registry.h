// Every backend cpuinfer knows, by name: how to make it, and whether it is available here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace cpuinfer {

struct BackendEntry {
  std::string name;
  std::string description;
  std::string supports;  // which workloads run, and why others do not
};

// In the order `cpuinfer backends` lists them.
const std::vector<BackendEntry>& known_backends();

// Throws cpuinfer::Error for an unknown name, listing the known ones.
std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options);

}  // namespace cpuinfer
