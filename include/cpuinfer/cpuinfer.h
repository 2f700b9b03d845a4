// cpuinfer's C++ API: load an ONNX model once (Model), run it from any number of threads
// (a Session each), with the caller's memory as inputs and read-only outputs. Errors are
// cpuinfer::Error (cpuinfer::Unsupported for what cpuinfer lacks), one line naming the culprit.
#pragma once

#include "cpuinfer/error.h"
#include "cpuinfer/model.h"
#include "cpuinfer/options.h"
#include "cpuinfer/session.h"
#include "cpuinfer/tensor.h"
