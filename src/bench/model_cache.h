// The model cache: one folder per (workload, weights), made by tools/export_models.py and reused
// by every later run while what it was made from is unchanged. meta.json in it says which files
// hold the model, which weights it has, how inputs are preprocessed, and the export's key
// (tools/export_key.py): the exporter's version, the checkpoint's content or the random weights'
// seed, and the other files the export read. A changed key exports again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "core/paths.h"

namespace cpuinfer {

struct ExportedModel {
  std::filesystem::path folder;
  ModelFiles files;
  nlohmann::json meta;
  std::map<std::string, std::string> export_errors;  // format -> first error line, for formats that failed
  std::string weights;  // the checkpoint's file name, or "random weights"
  bool random_weights = true;
  bool quantized = false;  // an int8 model (QDQ or integer operators): every backend's rows compare int8 arithmetic
};

struct ModelRequest {
  std::string workload;                           // "resnet101"
  std::filesystem::path cache;                    // the model cache root
  std::optional<std::filesystem::path> weights;   // checkpoint; none = seeded random weights
  std::uint64_t weights_seed = 0;                 // seeds the random weights (unused with a checkpoint)
  // Images to calibrate int8 quantization with when the export runs (none: the tool's default).
  std::optional<std::filesystem::path> calibration_images;
  // The export tool; its folder holds the sources meta.json lists. Tests substitute a stand-in.
  std::filesystem::path exporter = export_tool();
  // false: take an existing export as it is, unchecked. For a sweep's backend process, whose parent
  // checked it: an edit to tools/ during the sweep must not swap the model between backends.
  bool check_current = true;
};

// The cache folder a request maps to (whether or not it exists yet).
std::filesystem::path model_folder(const ModelRequest& request);

// Returns the cached export, running the export tooling first if the cache lacks it or holds a
// stale one (stale_reason; not checked when !check_current), one process at a time per folder.
// Throws cpuinfer::Error (naming the file) if the export fails, meta.json is damaged, or the
// folder holds the export of another checkpoint of the same name; model files are not checked
// here, so that a missing one fails only the backends that need it.
ExportedModel prepare_model(const ModelRequest& request);

// Why the export described by `meta` does not match `request` any more (its exporter's sources
// changed, the checkpoint's content changed, another weights seed, a file it read changed), or ""
// when it can be reused. Checkpoint digests come from the hash cache (identify_file).
std::string stale_reason(const ModelRequest& request, const nlohmann::json& meta);

// A file as an export records it (tools/export_key.py's file_identity).
struct FileIdentity {
  std::filesystem::path path;  // absolute, normalised
  std::uintmax_t size = 0;
  std::int64_t mtime_ns = 0;   // last modification, ns since the epoch (Python's st_mtime_ns)
  std::string sha256;          // of the content, lowercase hex
};

// The SHA-256 of a file's bytes, lowercase hex (OpenSSL). Throws cpuinfer::Error naming the file.
std::string file_sha256(const std::filesystem::path& file);

// `file`'s identity. The digest is taken from `hash_cache` (a small JSON file: path -> size, mtime,
// digest) while the file's size and mtime are the ones recorded there, and computed and recorded
// otherwise, so that a 170 MB checkpoint is read once rather than on every run. A rewrite that
// keeps both size and mtime (to the nanosecond) goes unseen, as it does for make.
FileIdentity identify_file(const std::filesystem::path& file, const std::filesystem::path& hash_cache);

// The hash cache of a model cache root: <cache>/file-sha256.json.
std::filesystem::path hash_cache_file(const std::filesystem::path& cache);

// The exporter's version as tools/export_key.py computes it: SHA-256 over each of `sources`
// (file names in `tools`), in order: name, NUL, size in decimal, NUL, bytes.
std::string exporter_version(const std::filesystem::path& tools, const std::vector<std::string>& sources);

}  // namespace cpuinfer
