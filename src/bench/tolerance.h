// How closely a row's outputs must agree with the reference's for bench to call it ok: max_rel_diff
// (max |out - ref| / max |ref|, bench/metrics.h) at most the tolerance of its precision. A row
// beyond it is `disagrees: max_rel_diff X > T`: no speed-up is shown for it anywhere, and bench
// exits non-zero. --tolerance sets one tolerance for every row.
#pragma once

#include <optional>
#include <string>

#include "backends/backend.h"

namespace cpuinfer {

// float32: 1e-4, the summation-order differences of fused and blocked kernels on deep models;
// bfloat16 and int8: see the definitions (docs/testing.md, "How we know it is right").
double default_tolerance(Precision precision);
// A backend's rows on a model that is itself quantized (QDQ or integer operators) compare int8
// arithmetic, whatever the backend.
Precision row_precision(Precision backend, bool quantized_model);
std::string precision_name(Precision precision);
// "float32 1e-4, bfloat16 5e-2, int8 0.25": the defaults, for help texts and result headers.
std::string default_tolerances_text();

// The status of a measured row: "ok", or "disagrees: max_rel_diff 1 > 1e-4" (or, where the
// reference's outputs are all zero, "disagrees: max_abs_diff 0.5 where the reference is all zero").
std::string agreement_status(std::optional<double> max_rel_diff, double max_abs_diff, std::size_t compared, double tolerance);

}  // namespace cpuinfer
