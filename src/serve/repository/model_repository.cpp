// The model repository read and checked (serve/repository/model_repository.h).
#include "serve/repository/model_repository.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <limits>
#include <set>

#include "core/error.h"

namespace fs = std::filesystem;

namespace cpuinfer::serve {

namespace {

using json = nlohmann::json;

// An integer field in [low, high], or `fallback` when absent.
template <typename T> T integer(const json& doc, const char* key, T fallback, T low, T high, const std::string& file) {
  const auto it = doc.find(key);
  if (it == doc.end()) return fallback;
  if (!it->is_number_integer()) fail("{}: \"{}\" must be an integer, not {}", file, key, it->dump());
  const auto v = it->get<std::int64_t>();
  if (v < static_cast<std::int64_t>(low) || v > static_cast<std::int64_t>(high))
    fail("{}: \"{}\" is {}, not in [{}, {}]", file, key, v, low, high);
  return static_cast<T>(v);
}

void only_known_fields(const json& doc, const std::set<std::string>& known, const std::string& where) {
  for (const auto& [key, value] : doc.items())
    if (!known.contains(key)) fail("{}: unknown field \"{}\" (known: {})", where, key, fmt::join(known, ", "));
}

TextConfig read_text_config(const json& text, const fs::path& folder, const std::string& file) {
  if (!text.is_object()) fail("{}: \"text\" must be an object", file);
  const std::string where = file + ": \"text\"";
  only_known_fields(text, {"vocab", "max_length", "lowercase"}, where);
  TextConfig t;
  const auto vocab = text.find("vocab");
  if (vocab == text.end() || !vocab->is_string()) fail("{}: \"vocab\" must name the WordPiece vocabulary file", where);
  t.vocab = folder / vocab->get<std::string>();
  if (!fs::is_regular_file(t.vocab)) fail("{}: vocab {} is not a file", where, t.vocab.string());
  t.max_length = integer<std::size_t>(text, "max_length", 512, 2, std::size_t{1} << 20, where);
  if (const auto lower = text.find("lowercase"); lower != text.end()) {
    if (!lower->is_boolean()) fail("{}: \"lowercase\" must be true or false", where);
    t.lowercase = lower->get<bool>();
  }
  return t;
}

bool is_version(const std::string& name) {
  return !name.empty() && name.size() < 10 && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         name != "0" && name[0] != '0';
}

}  // namespace

const std::vector<std::string>& serving_backends() {
  static const std::vector<std::string> backends = {"native", "native-int8", "native-bf16", "ort"};
  return backends;
}

ModelConfig read_model_config(const fs::path& folder) {
  const fs::path path = folder / "config.json";
  const std::string file = path.string();
  std::ifstream in(path);
  if (!in) fail("{}: missing (every model of the repository needs its config.json)", file);
  const json doc = json::parse(in, nullptr, false);
  if (doc.is_discarded()) fail("{}: not valid JSON", file);
  if (!doc.is_object()) fail("{}: must be a JSON object", file);
  only_known_fields(doc, {"backend", "instances", "threads", "max_batch_size", "max_queue_delay_us", "max_queue_size",
                          "default_timeout_ms", "pack_tokens", "text"}, file);
  ModelConfig c;
  const auto backend = doc.find("backend");
  if (backend == doc.end() || !backend->is_string())
    fail("{}: \"backend\" must name one of {}", file, fmt::join(serving_backends(), ", "));
  c.backend = backend->get<std::string>();
  if (std::find(serving_backends().begin(), serving_backends().end(), c.backend) == serving_backends().end())
    fail("{}: \"backend\" is \"{}\", not one of {}", file, c.backend, fmt::join(serving_backends(), ", "));
  c.instances = integer(doc, "instances", 0, 0, 256, file);
  c.threads = integer(doc, "threads", 1, 1, 256, file);
  c.max_batch_size = integer(doc, "max_batch_size", 8, 1, 1024, file);
  c.max_queue_delay_us = integer(doc, "max_queue_delay_us", 1000L, 0L, 10'000'000L, file);
  c.max_queue_size = integer(doc, "max_queue_size", 64, 1, 1'000'000, file);
  c.default_timeout_ms = integer(doc, "default_timeout_ms", 0L, 0L, 3'600'000L, file);
  if (const auto pack = doc.find("pack_tokens"); pack != doc.end()) {
    if (!pack->is_boolean()) fail("{}: \"pack_tokens\" must be true or false", file);
    c.pack_tokens = pack->get<bool>();
  }
  if (const auto text = doc.find("text"); text != doc.end()) c.text = read_text_config(*text, folder, file);
  return c;
}

std::vector<RepositoryModel> read_model_repository(const fs::path& repository) {
  if (!fs::is_directory(repository)) fail("--model-repository {}: not a folder", repository.string());
  std::vector<fs::path> folders;
  for (const auto& e : fs::directory_iterator(repository))
    if (e.is_directory() && e.path().filename().string()[0] != '.') folders.push_back(e.path());
  std::sort(folders.begin(), folders.end());
  if (folders.empty()) fail("--model-repository {}: no model folders in it", repository.string());
  std::vector<RepositoryModel> models;
  for (const fs::path& folder : folders) {
    RepositoryModel m;
    m.name = folder.filename().string();
    m.config = read_model_config(folder);
    for (const auto& e : fs::directory_iterator(folder)) {
      if (!e.is_directory()) continue;
      const std::string name = e.path().filename().string();
      if (!is_version(name)) fail("{}: a version folder must be named by a positive integer", e.path().string());
      const fs::path file = e.path() / "model.onnx";
      if (!fs::is_regular_file(file)) fail("{}: missing", file.string());
      m.versions.push_back({name, file});
    }
    if (m.versions.empty()) fail("{}: no version folder (<model>/1/model.onnx)", folder.string());
    std::sort(m.versions.begin(), m.versions.end(),
              [](const ModelVersion& a, const ModelVersion& b) { return std::stoul(a.version) < std::stoul(b.version); });
    models.push_back(std::move(m));
  }
  return models;
}

}  // namespace cpuinfer::serve
