// Counting runs in the child: ORT writes its optimized model (weights in a file of their own, so
// the graph is small to read whatever the model's size), the ONNX classes read it back. The parent
// only reads the cache, or runs the child and keeps its one line of JSON.
#include "backends/ort/ort_optimized_graph.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>
#include <onnxruntime_session_options_config_keys.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include "backends/ort/ort_session_options.h"
#include "core/cpu_features.h"
#include "core/error.h"
#include "core/paths.h"
#include "core/subprocess.h"

namespace fs = std::filesystem;

namespace cpuinfer {

namespace {

// Always reported, found or not: what a reader of a BERT comparison asks about first.
constexpr const char* kAlwaysReported[] = {"Attention", "SkipLayerNormalization"};

class TemporaryFolder {
 public:
  TemporaryFolder() {
    std::string name = (fs::temp_directory_path() / "cpuinfer-ort-graph-XXXXXX").string();
    if (mkdtemp(name.data()) == nullptr)
      fail("cannot create a temporary folder for ONNX Runtime's optimized model: {}: {}", name, std::strerror(errno));
    path_ = name;
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct NodeCount {
  std::map<std::string, std::size_t> fused;
  std::size_t nodes = 0;
};

// Subgraphs (If, Loop, Scan bodies) too: ORT optimizes them as well.
void count_nodes(const onnx::GraphProto& graph, NodeCount& count) {
  for (const auto& node : graph.node()) {
    ++count.nodes;
    if (node.domain() == "com.microsoft") ++count.fused[node.op_type()];
    // Its blocked-layout ops reuse standard names (Conv, MaxPool): the domain tells them apart.
    if (node.domain() == "com.microsoft.nchwc") ++count.fused["nchwc." + node.op_type()];
    for (const auto& attribute : node.attribute()) {
      if (attribute.has_g()) count_nodes(attribute.g(), count);
      for (const auto& subgraph : attribute.graphs()) count_nodes(subgraph, count);
    }
  }
}

nlohmann::json unknown(const std::string& why) {
  return {{"fused_nodes", "unknown: " + why}, {"optimized_nodes", nullptr}};
}

// What count_ort_optimized_graph returns, and nothing else: checks the child's output and the cache.
bool is_node_count(const nlohmann::json& j) {
  if (!j.is_object() || j.size() != 2 || !j.contains("fused_nodes") || !j["fused_nodes"].is_object() ||
      !j.contains("optimized_nodes") || !j["optimized_nodes"].is_number_unsigned())
    return false;
  for (const auto& [type, n] : j["fused_nodes"].items())
    if (!n.is_number_unsigned()) return false;
  return true;
}

// The threads are not part of it: they do not change the graph ORT makes.
nlohmann::json cache_key(const fs::path& model, OrtLevel level) {
  struct stat st {};
  if (stat(model.c_str(), &st) != 0) fail("cannot read {}: {}", model.string(), std::strerror(errno));
  return {{"ort_version", Ort::GetVersionString()},
          {"level", ort_level_name(level)},
          {"isa", cpu_features().names()},
          {"model_bytes", static_cast<std::uint64_t>(st.st_size)},
          {"model_mtime_ns", static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec}};
}

nlohmann::json read_cache(const fs::path& file, const nlohmann::json& key) {
  std::ifstream in(file);
  if (!in) return nullptr;
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("key") || doc["key"] != key) return nullptr;
  doc.erase("key");
  return is_node_count(doc) ? doc : nullptr;
}

// Written whole or not at all (a temporary file renamed); a folder that refuses it is left alone.
void write_cache(const fs::path& file, const nlohmann::json& key, const nlohmann::json& count) {
  nlohmann::json doc = count;
  doc["key"] = key;
  const fs::path tmp = fmt::format("{}.{}.tmp", file.string(), getpid());
  std::error_code ignored;
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << doc.dump(2) << "\n";
    if (!out.flush()) {
      fs::remove(tmp, ignored);
      return;
    }
  }
  fs::rename(tmp, file, ignored);
  if (ignored) fs::remove(tmp, ignored);
}

std::string last_line(const std::string& text) {
  const std::size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  const std::size_t newline = text.rfind('\n', end);
  const std::size_t start = newline == std::string::npos ? 0 : newline + 1;
  return text.substr(start, end + 1 - start);
}

nlohmann::json count_in_child(const fs::path& model, OrtLevel level, int threads, const fs::path& executable) {
  const ProcessResult r = run_process({executable.string(), kOrtGraphCommand, "--model", model.string(), "--level",
                                       ort_level_name(level), "--threads", std::to_string(threads)});
  std::string line = last_line(r.output);
  if (r.exit_code == 0) {
    const nlohmann::json count = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (is_node_count(count)) return count;
    return unknown(fmt::format("`{}` printed no node count: {}", kOrtGraphCommand, line));
  }
  constexpr std::string_view kErrorPrefix = "cpuinfer: error: ";
  if (line.starts_with(kErrorPrefix)) line.erase(0, kErrorPrefix.size());
  if (!line.empty()) return unknown(line);
  return unknown(r.exit_code < 0 ? fmt::format("`{}` was killed", kOrtGraphCommand)
                                 : fmt::format("`{}` exited with code {}", kOrtGraphCommand, r.exit_code));
}

}  // namespace

std::string ort_level_name(OrtLevel level) {
  switch (level) {
    case OrtLevel::all: return "all";
    case OrtLevel::basic: return "basic";
  }
  fail("unknown ONNX Runtime optimization level {}", static_cast<int>(level));
}

nlohmann::json count_ort_optimized_graph(const fs::path& model, OrtLevel level, int threads) {
  const TemporaryFolder folder;
  const fs::path optimized = folder.path() / "optimized.onnx";
  try {
    Ort::SessionOptions options = ort_session_options(level, threads);
    options.SetOptimizedModelFilePath(optimized.c_str());
    options.AddConfigEntry(kOrtSessionOptionsOptimizedModelExternalInitializersFileName, "optimized.onnx.data");
    const Ort::Session session(ort_env(), model.c_str(), options);
  } catch (const Ort::Exception& e) {
    fail("{}", first_line(e.what()));
  }
  onnx::ModelProto proto;
  std::ifstream in(optimized, std::ios::binary);
  if (!in || !proto.ParseFromIstream(&in))
    fail("ONNX Runtime wrote no readable optimized model of {}", model.string());
  NodeCount count;
  count_nodes(proto.graph(), count);
  for (const char* type : kAlwaysReported) count.fused.try_emplace(type, 0);
  return {{"fused_nodes", count.fused}, {"optimized_nodes", count.nodes}};
}

fs::path ort_graph_cache_file(const fs::path& model, OrtLevel level) {
  return derived_folder(model) / fmt::format("ort-graph-{}.json", ort_level_name(level));
}

nlohmann::json ort_optimized_graph(const fs::path& model, OrtLevel level, int threads, const fs::path& executable) {
  try {
    const nlohmann::json key = cache_key(model, level);
    const fs::path cache = ort_graph_cache_file(model, level);
    if (nlohmann::json cached = read_cache(cache, key); !cached.is_null()) return cached;
    const nlohmann::json count = count_in_child(model, level, threads, executable);
    if (count.at("fused_nodes").is_object()) write_cache(cache, key, count);
    return count;
  } catch (const std::exception& e) {
    return unknown(first_line(e.what()));
  }
}

}  // namespace cpuinfer
