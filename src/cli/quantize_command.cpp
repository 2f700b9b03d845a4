// `cpuinfer quantize`: post-training int8 quantization of an ONNX model (quantize/quantize_model.h).
// Calibration data comes from .npy files, samples along the first dimension, and is checked against
// the model's inputs before anything runs.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "core/error.h"
#include "core/machine.h"
#include "engine/isa.h"
#include "engine/onnx/import.h"
#include "quantize/calibration_data.h"
#include "quantize/quantize_model.h"

namespace fs = std::filesystem;

namespace cpuinfer {

namespace {

struct QuantizeArgs {
  std::string model, out;
  std::vector<std::string> calibration;
  std::string mode = "auto", method = "minmax";
  double percentile = 99.999;
  int batch_size = 8;
  int threads = 0;
  bool reduce_range = false;
  bool reduce_range_given = false;  // else 7-bit weights where this CPU's integer products need them
};

std::string megabytes(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  return ec ? "?" : fmt::format("{:.1f} MB", static_cast<double>(size) / 1e6);
}

int run_quantize(QuantizeArgs& a) {
  if (a.threads <= 0) a.threads = read_machine_info().usable_cores;
  const auto start = std::chrono::steady_clock::now();
  const engine::Signature signature = engine::read_onnx_signature(a.model);

  // Every check of the data before anything runs.
  std::vector<std::vector<Tensor>> batches;
  std::size_t samples = 0;
  if (!a.calibration.empty()) {
    batches = quant::read_calibration(signature.inputs, a.calibration, static_cast<std::size_t>(a.batch_size), &samples);
  } else if (a.mode == "static") {
    fail("--mode static needs calibration data: --calibration [name=]FILE.npy, samples along the first dimension");
  }

  quant::QuantizeOptions options;
  options.mode = a.mode == "static" ? quant::QuantizeMode::static_qdq
                 : a.mode == "dynamic" ? quant::QuantizeMode::dynamic
                                       : quant::QuantizeMode::automatic;
  options.method = a.method == "percentile" ? quant::CalibrationMethod::percentile : quant::CalibrationMethod::minmax;
  options.percentile = a.percentile;
  options.threads = a.threads;
  // Without AVX512_VNNI, integer kernels (oneDNN's and ONNX Runtime's alike) multiply uint8 by int8
  // with vpmaddubsw, which saturates pairs of products at int16: 8-bit weights give wrong sums there.
  options.weight_limit = a.reduce_range_given ? (a.reduce_range ? 64 : 127) : engine::exact_int8_weight_limit();
  const bool reduce_range = options.weight_limit < 127;
  const quant::QuantizeReport r = quant::quantize_model(a.model, a.out, batches, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  fmt::print("{} -> {}\n", a.model, a.out);
  if (r.upgraded_from_opset)
    fmt::print("upgraded from opset {} to 13 with ONNX's version converter (per-channel QuantizeLinear needs 13)\n",
               r.upgraded_from_opset);
  if (r.mode == "static") {
    const std::string method = options.method == quant::CalibrationMethod::percentile
                                   ? fmt::format("percentile {} calibration", options.percentile)
                                   : "minmax calibration";
    fmt::print("mode: static (QDQ: uint8 activations, int8 weights per channel), {} on {} samples in {} batches\n", method,
               r.calibration_samples, batches.size());
  } else {
    fmt::print("mode: dynamic (MatMul by int8 weights per column, activations quantized at run time){}\n",
               samples > 0 ? "; the calibration data was not needed" : "");
  }
  fmt::print("quantized: {} nodes given int8 inputs, {} weights{}\n", r.quantized_nodes, r.quantized_weights,
             reduce_range ? fmt::format(" (7-bit: |q| <= 64{})", a.reduce_range_given ? "" : ", as this CPU lacks AVX512_VNNI: "
                                        "--no-reduce-range for 8 bits") : "");
  if (!r.skipped.empty()) {
    constexpr std::size_t kShown = 10;
    fmt::print("skipped ({}):\n", r.skipped.size());
    for (std::size_t i = 0; i < std::min(kShown, r.skipped.size()); ++i) fmt::print("  {}\n", r.skipped[i]);
    if (r.skipped.size() > kShown) fmt::print("  ... and {} more\n", r.skipped.size() - kShown);
  }
  fmt::print("wrote {} ({}, the float model {}) in {:.1f} s\n", a.out, megabytes(a.out), megabytes(a.model), seconds);
  return 0;
}

}  // namespace

void add_quantize_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<QuantizeArgs>();
  auto* cmd = app.add_subcommand("quantize", "Quantize an ONNX model to int8 (QDQ static or dynamic MatMul), as standard ONNX");
  cmd->add_option("--model", args->model, "ONNX model (below opset 13, upgraded to 13 with ONNX's version converter)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "The quantized model to write")->required();
  cmd->add_option("--calibration", args->calibration,
                  "Calibration inputs from a .npy file, samples along the first dimension: FILE.npy for a model of one "
                  "input, else name=FILE.npy per input (repeatable)");
  cmd->add_option("--mode", args->mode, "auto: static if the model has a Conv, else dynamic")
      ->check(CLI::IsMember({"auto", "static", "dynamic"}))
      ->capture_default_str();
  auto* method = cmd->add_option("--method", args->method, "Calibration of activation ranges (static mode; --percentile "
                                 "implies percentile)")
      ->check(CLI::IsMember({"minmax", "percentile"}))
      ->capture_default_str();
  auto* percentile = cmd->add_option("--percentile", args->percentile, "percentile: clip each activation's range to this percentile "
                  "and its mirror below (99.999 leaves out 0.001% at each end)")
      ->check(number_in(50.0, 100.0))
      ->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "Calibration samples per run")
      ->check(whole_number(1, 65536))
      ->capture_default_str();
  auto* reduce = cmd->add_flag("--reduce-range,!--no-reduce-range", args->reduce_range,
                "7-bit weights (|q| <= 64), which integer kernels without AVX512_VNNI multiply without saturating; "
                "default: on where this CPU lacks it (--no-reduce-range: 8-bit weights)");
  cmd->add_option("--threads", args->threads, "Intra-op threads of the calibration runs; 0 = all usable cores")
      ->check(whole_number(0, 1024))
      ->capture_default_str();
  cmd->callback([args, &exit_code, method, percentile, reduce] {
    args->reduce_range_given = reduce->count() > 0;
    if (percentile->count() > 0 && method->count() == 0) args->method = "percentile";
    if (percentile->count() > 0 && args->method != "percentile")
      fail("--percentile {} needs --method percentile (given --method {})", args->percentile, args->method);
    exit_code = run_quantize(*args);
  });
}

}  // namespace cpuinfer
