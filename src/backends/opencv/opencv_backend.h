// OpenCV DNN backend (Debian's OpenCV 4.6, CPU target), on ONNX models after Identity removal.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace cpuinfer {

std::unique_ptr<Backend> make_opencv_backend(const BackendOptions& options);

}  // namespace cpuinfer
