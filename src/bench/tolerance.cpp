// The tolerances, and a row's agreement status.
#include "bench/tolerance.h"

#include <fmt/format.h>

namespace cpuinfer {

double default_tolerance(Precision precision) {
  switch (precision) {
    case Precision::f32: return 1e-4;
    // bfloat16 keeps 8 significant bits (a relative step of 2^-8 = 0.4%) per rounded operand:
    // products over thousands of terms accumulate in float32, so the error grows with depth, not
    // with width. 5e-2 of the largest logit passes ResNet-101 and BERT-base in bfloat16 and fails
    // any broken kernel (wrong values are off by the whole range).
    case Precision::bf16: return 5e-2;
    // int8: values one quantization step apart (1/255 of a tensor's range) where a sum lands
    // next to a rounding boundary, and such steps carried through every layer. Against float32
    // the model's own quantization error comes on top. 0.25 of the largest magnitude.
    case Precision::int8: return 0.25;
  }
  return 1e-4;
}

Precision row_precision(Precision backend, bool quantized_model) { return quantized_model ? Precision::int8 : backend; }

std::string precision_name(Precision precision) {
  switch (precision) {
    case Precision::f32: return "float32";
    case Precision::bf16: return "bfloat16";
    case Precision::int8: return "int8";
  }
  return "float32";
}

std::string default_tolerances_text() {
  std::string text;
  for (Precision p : {Precision::f32, Precision::bf16, Precision::int8})
    text += fmt::format("{}{} {:g}", text.empty() ? "" : ", ", precision_name(p), default_tolerance(p));
  return text;
}

std::string agreement_status(std::optional<double> max_rel_diff, double max_abs_diff, std::size_t compared, double tolerance) {
  if (compared == 0) return "ok";
  if (!max_rel_diff) {  // the reference is all zero
    return max_abs_diff > 0 ? fmt::format("disagrees: max_abs_diff {:.3g} where the reference is all zero", max_abs_diff) : "ok";
  }
  if (*max_rel_diff > tolerance) return fmt::format("disagrees: max_rel_diff {:.3g} > {:.3g}", *max_rel_diff, tolerance);
  return "ok";
}

}  // namespace cpuinfer
