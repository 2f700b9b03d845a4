// cpuinfer::Model: an ONNX model loaded once (imported, constants folded, fused, weights
// prepacked), immutable, shared by every Session and thread that runs it. Copies share it.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "cpuinfer/options.h"
#include "cpuinfer/tensor.h"

namespace cpuinfer {

class Model {
 public:
  // Throws cpuinfer::Error for a malformed file and cpuinfer::Unsupported for an operator, element
  // type or CPU extension cpuinfer lacks, naming the node.
  explicit Model(const std::filesystem::path& onnx_file, const Options& options = {});

  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  const Options& options() const;
  // "cpuinfer engine, avx512 path, oneDNN 2.6.3 (cpu runtime: OpenMP)"
  static std::string engine_version();

  struct Impl;
  const std::shared_ptr<Impl>& impl() const { return impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace cpuinfer
