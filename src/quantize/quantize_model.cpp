// The entry point: read the model, check its opset and the calibration batches, choose the mode,
// run the quantizer, write the result under a temporary name and rename it into place.
#include "quantize/quantize_model.h"

#include <onnx/onnx_pb.h>
#include <onnx/version_converter/convert.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>

#include "core/error.h"
#include "quantize/calibration_data.h"
#include "quantize/dynamic_matmul.h"
#include "quantize/graph_index.h"
#include "quantize/qdq_plan.h"
#include "quantize/qdq_writer.h"

namespace fs = std::filesystem;

namespace cpuinfer::quant {

namespace {

// Per-axis QuantizeLinear and DequantizeLinear came with opset 13.
constexpr std::int64_t kMinimumOpset = 13;

onnx::ModelProto read_model(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open model {}", file.string());
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in)) fail("{} is not an ONNX model (protobuf parsing failed)", file.string());
  if (!model.has_graph()) fail("{}: the model has no graph", file.string());
  return model;
}

void write_model(const onnx::ModelProto& model, const fs::path& out) {
  if (model.ByteSizeLong() > static_cast<std::size_t>(INT_MAX))
    fail("{}: the quantized model takes {} bytes, beyond protobuf's 2 GiB limit", out.string(), model.ByteSizeLong());
  fs::path temporary = out;
  temporary += fmt::format(".tmp-{}", ::getpid());
  struct RemoveOnFailure {
    const fs::path& file;
    bool done = false;
    ~RemoveOnFailure() {
      std::error_code ignored;
      if (!done) fs::remove(file, ignored);
    }
  } guard{temporary};
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file) fail("cannot write {}: {}", temporary.string(), std::strerror(errno));
    if (!model.SerializeToOstream(&file)) fail("cannot write {}: serialization failed", temporary.string());
    file.close();
    if (!file) fail("cannot write {}: {}", temporary.string(), std::strerror(errno));
  }
  std::error_code ec;
  fs::rename(temporary, out, ec);
  if (ec) fail("cannot write {}: {}", out.string(), ec.message());
  guard.done = true;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// A model written beside `out` for the calibration runs to read, removed with this object.
class TemporaryModel {
 public:
  TemporaryModel(const onnx::ModelProto& model, const fs::path& out) : path_(out) {
    path_ += ".upgraded.tmp";
    std::ofstream f(path_, std::ios::binary);
    if (!f || !model.SerializeToOstream(&f)) fail("cannot write {}", path_.string());
  }
  ~TemporaryModel() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  TemporaryModel(const TemporaryModel&) = delete;
  TemporaryModel& operator=(const TemporaryModel&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

bool has_conv(const onnx::GraphProto& graph) {
  for (const auto& node : graph.node())
    if (node.op_type() == "Conv" && GraphIndex::is_default_domain(node)) return true;
  return false;
}

}  // namespace

QuantizeReport quantize_model(const fs::path& in, const fs::path& out, const std::vector<std::vector<Tensor>>& calibration,
                              const QuantizeOptions& options) {
  onnx::ModelProto model = read_model(in);
  QuantizeReport report;
  // Older models (paddle2onnx and tf2onnx write opsets 9 to 12) are upgraded first, with ONNX's own
  // version converter, and calibrated as upgraded.
  std::optional<TemporaryModel> upgraded;
  if (const std::int64_t opset = GraphIndex::default_opset(model); opset < kMinimumOpset) {
    try {
      model = onnx::version_conversion::ConvertVersion(model, static_cast<int>(kMinimumOpset));
    } catch (const std::exception& e) {
      fail("quantize needs opset {} or newer (per-channel QuantizeLinear/DequantizeLinear) and ONNX's version converter "
           "cannot upgrade this model from opset {}: {}", kMinimumOpset, opset, first_line(e.what()));
    }
    report.upgraded_from_opset = opset;
    upgraded.emplace(model, out);
  }
  const fs::path& calibrated_file = upgraded ? upgraded->path() : in;
  if (options.weight_limit < 1 || options.weight_limit > 127)
    fail("int8 weight limit {} is not in [1, 127]", options.weight_limit);
  const bool automatic = options.mode == QuantizeMode::automatic;
  const bool static_mode = options.mode == QuantizeMode::static_qdq || (automatic && has_conv(model.graph()));

  if (!static_mode) {
    DynamicResult r = write_dynamic_matmul(model, options.weight_limit);
    report.mode = "dynamic";
    report.quantized_nodes = r.quantized_nodes;
    report.quantized_weights = r.quantized_weights;
    report.skipped = std::move(r.skipped);
  } else {
    if (calibration.empty())
      fail("static quantization needs calibration data, at least one batch of the model's inputs{}",
           automatic ? " (automatic mode chose static: the model has Conv nodes; dynamic mode needs none)" : "");
    if (options.method == CalibrationMethod::percentile && !(options.percentile > 50.0 && options.percentile <= 100.0))
      fail("percentile {} is not in (50, 100]", options.percentile);
    const GraphIndex index(model.graph());
    const std::vector<engine::TensorSpec> inputs = index.declared_inputs();
    for (std::size_t b = 0; b < calibration.size(); ++b)
      report.calibration_samples += check_calibration_inputs(
          inputs, calibration[b], calibration.size() == 1 ? "calibration data" : fmt::format("calibration batch {}", b + 1), false);
    QdqPlan plan = plan_qdq(index);
    const std::vector<std::string> tensors = tensors_to_calibrate(index, plan);
    std::map<std::string, ObservedTensor> observed;
    if (!tensors.empty())
      observed = calibrate(calibrated_file, tensors, calibration,
                           {.method = options.method, .percentile = options.percentile, .threads = std::max(1, options.threads)});
    keep_calibrated_ops(plan, index, observed);
    const QdqResult r = write_qdq(model, plan, observed, options.weight_limit);
    report.mode = "static";
    report.quantized_nodes = r.quantized_nodes;
    report.quantized_weights = r.quantized_weights;
    report.skipped = std::move(plan.skipped);
  }
  write_model(model, out);
  return report;
}

}  // namespace cpuinfer::quant
