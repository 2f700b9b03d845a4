// Finds or makes an exported model and validates its meta.json.
#include "bench/model_cache.h"

#include <fmt/format.h>

#include <fstream>

#include "core/error.h"
#include "core/paths.h"
#include "core/subprocess.h"

namespace fs = std::filesystem;

namespace cpuinfer {

namespace {
// Absolute and without "." or "..", as Python's os.path.abspath gives it to the export tooling.
fs::path normalised(const fs::path& path) { return fs::absolute(path).lexically_normal(); }
}  // namespace

fs::path model_folder(const ModelRequest& request) {
  // The same rule as weights_tag() in tools/export_models.py.
  std::string tag = fmt::format("random-seed{}", request.seed);
  if (request.weights) {
    tag = request.weights->stem().string();
    if (tag == "pytorch_model" || tag == "model")  // Hugging Face names: the folder names the model
      tag = normalised(*request.weights).parent_path().filename().string() + "-" + tag;
  }
  return request.cache / fmt::format("{}-{}", request.workload, tag);
}

namespace {
void run_export(const ModelRequest& request) {
  std::vector<std::string> argv = {python_interpreter().string(), export_tool().string(), request.workload,
                                   "--out",  request.cache.string(), "--seed", std::to_string(request.seed)};
  if (request.weights) {
    if (!fs::is_regular_file(*request.weights)) fail("weights file not found: {}", request.weights->string());
    argv.insert(argv.end(), {"--weights", normalised(*request.weights).string()});
  }
  if (request.calibration_images)
    argv.insert(argv.end(), {"--calibration-images", normalised(*request.calibration_images).string()});
  fmt::print(stderr, "exporting {} to {} (once; later runs reuse it)\n", request.workload,
             model_folder(request).string());
  ProcessResult result = run_process(argv);
  if (result.exit_code != 0) {
    // The tool's own last line says what went wrong.
    std::string out = result.output;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    const auto nl = out.rfind('\n');
    fail("export of {} failed: {}", request.workload, nl == std::string::npos ? out : out.substr(nl + 1));
  }
}
}  // namespace

ExportedModel prepare_model(const ModelRequest& request) {
  ExportedModel model;
  model.folder = model_folder(request);
  const fs::path meta_path = model.folder / "meta.json";
  if (!fs::exists(meta_path)) run_export(request);
  std::ifstream in(meta_path);
  if (!in) fail("cannot read {}", meta_path.string());
  try {
    model.meta = nlohmann::json::parse(in);
    // A missing file fails only the backends that load it (see the sweep).
    for (const auto& [format, file] : model.meta.at("files").items())
      model.files.by_format[format] = model.folder / file.get<std::string>();
    if (model.meta.contains("export_errors"))
      model.export_errors = model.meta["export_errors"].get<std::map<std::string, std::string>>();
    model.weights = model.meta.at("weights").get<std::string>();
    // Two checkpoints with the same file name map to one folder: never benchmark the wrong one.
    if (request.weights && model.meta.contains("weights_path") && model.meta["weights_path"].is_string()) {
      const std::string wanted = normalised(*request.weights).string();
      if (model.meta["weights_path"].get<std::string>() != wanted)
        fail("{} holds the export of {}, not {}: remove that folder or rename the checkpoint", model.folder.string(),
             model.meta["weights_path"].get<std::string>(), wanted);
    }
    model.random_weights = model.meta.at("random_weights").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    fail("malformed {}: {}", meta_path.string(), e.what());
  }
  return model;
}

}  // namespace cpuinfer
