// Finds or makes an exported model: checks that a cached export still matches what it was made
// from (the key tools/export_key.py records), exports again when not, and validates meta.json.
#include "bench/model_cache.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "core/error.h"
#include "core/subprocess.h"

namespace fs = std::filesystem;

namespace cpuinfer {

namespace {
// Absolute and without "." or "..", as Python's os.path.abspath gives it to the export tooling.
fs::path normalised(const fs::path& path) { return fs::absolute(path).lexically_normal(); }
}  // namespace

fs::path model_folder(const ModelRequest& request) {
  // The same rule as weights_tag() in tools/export_models.py.
  std::string tag = fmt::format("random-seed{}", request.weights_seed);
  if (request.weights) {
    tag = request.weights->stem().string();
    if (tag == "pytorch_model" || tag == "model")  // Hugging Face names: the folder names the model
      tag = normalised(*request.weights).parent_path().filename().string() + "-" + tag;
  }
  return request.cache / fmt::format("{}-{}", request.workload, tag);
}

// --- digests ---------------------------------------------------------------------------------

namespace {

class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1)
      fail("OpenSSL cannot start a SHA-256 digest");
  }
  void update(const void* data, std::size_t size) {
    if (EVP_DigestUpdate(context_.get(), data, size) != 1) fail("OpenSSL's SHA-256 update failed");
  }
  void update(const std::string& text) { update(text.data(), text.size()); }
  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(context_.get(), digest.data(), &size) != 1) fail("OpenSSL's SHA-256 failed");
    std::string out;
    for (unsigned int i = 0; i < size; ++i) fmt::format_to(std::back_inserter(out), "{:02x}", digest[i]);
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context_;
};

std::string read_whole_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot read {}: {}", file.string(), std::strerror(errno));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct FileStat {
  std::uintmax_t size = 0;
  std::int64_t mtime_ns = 0;
};

std::optional<FileStat> stat_regular_file(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileStat{static_cast<std::uintmax_t>(st.st_size),
                  static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

// The hash cache is only a cache: a missing or damaged one is empty, and one that cannot be
// written (a read-only cache folder) just means hashing again next time.
nlohmann::json read_hash_cache(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return nlohmann::json::object();
  nlohmann::json cache = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return cache.is_object() ? cache : nlohmann::json::object();
}

void write_hash_cache(const fs::path& file, nlohmann::json cache) {
  for (auto it = cache.begin(); it != cache.end();)  // forget files that are gone
    it = stat_regular_file(it.key()) ? std::next(it) : cache.erase(it);
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  // Written whole and renamed into place: a concurrent reader sees the old or the new file.
  const fs::path temporary = file.string() + fmt::format(".{}.tmp", ::getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << cache.dump(1) << '\n';
    if (!out) {
      fs::remove(temporary, ec);
      return;
    }
  }
  fs::rename(temporary, file, ec);
  if (ec) fs::remove(temporary, ec);
}

}  // namespace

std::string file_sha256(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot read {}: {}", file.string(), std::strerror(errno));
  Sha256 digest;
  std::vector<char> buffer(std::size_t{1} << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    digest.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) fail("error reading {}", file.string());
  return digest.hex();
}

fs::path hash_cache_file(const fs::path& cache) { return cache / "file-sha256.json"; }

FileIdentity identify_file(const fs::path& file, const fs::path& hash_cache) {
  FileIdentity id;
  id.path = normalised(file);
  const std::optional<FileStat> before = stat_regular_file(id.path);
  if (!before) fail("cannot read {}: not a file", id.path.string());
  id.size = before->size;
  id.mtime_ns = before->mtime_ns;
  nlohmann::json cache = read_hash_cache(hash_cache);
  if (const auto entry = cache.find(id.path.string()); entry != cache.end() && entry->is_object()) {
    const auto& e = *entry;
    if (e.value("size", nlohmann::json()) == id.size && e.value("mtime_ns", nlohmann::json()) == id.mtime_ns &&
        e.value("sha256", nlohmann::json()).is_string()) {
      id.sha256 = e["sha256"].get<std::string>();
      return id;
    }
  }
  id.sha256 = file_sha256(id.path);
  const std::optional<FileStat> after = stat_regular_file(id.path);
  if (after && after->size == before->size && after->mtime_ns == before->mtime_ns) {  // not written meanwhile
    cache[id.path.string()] = {{"size", id.size}, {"mtime_ns", id.mtime_ns}, {"sha256", id.sha256}};
    write_hash_cache(hash_cache, std::move(cache));
  }
  return id;
}

std::string exporter_version(const fs::path& tools, const std::vector<std::string>& sources) {
  Sha256 digest;
  for (const std::string& name : sources) {
    const std::string bytes = read_whole_file(tools / name);
    digest.update(name);
    digest.update("\0", 1);
    digest.update(std::to_string(bytes.size()));
    digest.update("\0", 1);
    digest.update(bytes);
  }
  return digest.hex();
}

// --- staleness -------------------------------------------------------------------------------

std::string stale_reason(const ModelRequest& request, const nlohmann::json& meta) {
  try {
    const auto exporter = meta.find("exporter");
    if (exporter == meta.end() || !exporter->is_object() || !exporter->contains("version"))
      return "it records no exporter version (made by an older exporter)";
    const fs::path tools = request.exporter.parent_path();
    const auto sources = exporter->at("sources").get<std::vector<std::string>>();
    for (const std::string& name : sources) {
      if (name.empty() || name == "." || name == ".." || fs::path(name).filename() != fs::path(name))
        return fmt::format("its exporter source '{}' is not a file name", name);
      if (!fs::is_regular_file(tools / name)) return fmt::format("its exporter source {} is gone", (tools / name).string());
    }
    if (exporter_version(tools, sources) != exporter->at("version").get<std::string>())
      return fmt::format("the exporter ({}) changed since", fmt::join(sources, ", "));

    const fs::path hashes = hash_cache_file(request.cache);
    if (!request.weights) {
      const auto& seed = meta.at("seed");
      if (!meta.at("random_weights").get<bool>() || !seed.is_number_unsigned() ||
          seed.get<std::uint64_t>() != request.weights_seed)
        return fmt::format("it does not hold random weights of seed {}", request.weights_seed);
    } else {
      const auto& checkpoint = meta.at("checkpoint");
      if (!checkpoint.is_object()) return "it records no checkpoint";
      if (identify_file(*request.weights, hashes).sha256 != checkpoint.at("sha256").get<std::string>())
        return fmt::format("{} changed since", request.weights->string());
    }
    for (const auto& read : meta.value("files_read", nlohmann::json::array())) {
      const fs::path path = read.at("path").get<std::string>();
      if (!stat_regular_file(path)) return fmt::format("{}, which it read, is gone", path.string());
      if (identify_file(path, hashes).sha256 != read.at("sha256").get<std::string>())
        return fmt::format("{}, which it read, changed since", path.string());
    }
  } catch (const nlohmann::json::exception& e) {
    return fmt::format("its key in meta.json is malformed ({})", e.what());
  }
  return "";
}

// --- the cache -------------------------------------------------------------------------------

namespace {

// An exclusive flock on a file beside the export folder, held while one process checks and
// exports; another process asking for the same folder waits, then finds the export made.
class ExportLock {
 public:
  explicit ExportLock(const fs::path& file) {
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create the lock file {}: {}", file.string(), std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) {
        const int error = errno;
        ::close(fd_);
        fail("cannot lock {}: {}", file.string(), std::strerror(error));
      }
  }
  ~ExportLock() { ::close(fd_); }  // releases the lock
  ExportLock(const ExportLock&) = delete;
  ExportLock& operator=(const ExportLock&) = delete;

 private:
  int fd_ = -1;
};

nlohmann::json read_meta(const fs::path& meta_path) {
  std::ifstream in(meta_path);
  if (!in) fail("cannot read {}", meta_path.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("malformed {}: {}", meta_path.string(), e.what());
  }
}

// Two checkpoints with the same file name map to one folder: never benchmark or overwrite the
// export of another one (the same content under another path is the same checkpoint).
void refuse_other_checkpoint(const ModelRequest& request, const fs::path& folder, const nlohmann::json& meta) {
  if (!request.weights) return;
  std::string path, sha256;
  if (const auto c = meta.find("checkpoint"); c != meta.end() && c->is_object()) {
    if (c->contains("path") && (*c)["path"].is_string()) path = (*c)["path"].get<std::string>();
    if (c->contains("sha256") && (*c)["sha256"].is_string()) sha256 = (*c)["sha256"].get<std::string>();
  } else if (const auto p = meta.find("weights_path"); p != meta.end() && p->is_string()) {
    path = p->get<std::string>();  // an older exporter's meta.json
  }
  const std::string wanted = normalised(*request.weights).string();
  if (path.empty() || path == wanted) return;
  if (!sha256.empty() && identify_file(*request.weights, hash_cache_file(request.cache)).sha256 == sha256) return;
  fail("{} holds the export of {}, not {}: remove that folder or rename the checkpoint", folder.string(), path, wanted);
}

constexpr const char* kNoExportYet = "none yet";

// "" when the folder holds an export that can be reused, otherwise why one must be made.
std::string export_needed(const ModelRequest& request, const fs::path& folder) {
  const fs::path meta_path = folder / "meta.json";
  if (!fs::exists(meta_path)) return kNoExportYet;
  if (!request.check_current) return "";
  const nlohmann::json meta = read_meta(meta_path);
  refuse_other_checkpoint(request, folder, meta);
  return stale_reason(request, meta);
}

void run_export(const ModelRequest& request, bool replace) {
  std::vector<std::string> argv = {python_interpreter().string(), request.exporter.string(), request.workload,
                                   "--out", request.cache.string(), "--weights-seed", std::to_string(request.weights_seed)};
  if (request.weights) argv.insert(argv.end(), {"--weights", normalised(*request.weights).string()});
  if (request.calibration_images)
    argv.insert(argv.end(), {"--calibration-images", normalised(*request.calibration_images).string()});
  if (replace) argv.emplace_back("--force");  // this side decided the export is stale
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
  if (request.weights && !fs::is_regular_file(*request.weights))
    fail("weights file not found: {}", request.weights->string());
  ExportedModel model;
  model.folder = model_folder(request);
  if (!export_needed(request, model.folder).empty()) {
    ExportLock lock(request.cache / fmt::format(".{}.lock", model.folder.filename().string()));
    if (const std::string why = export_needed(request, model.folder); !why.empty()) {  // another process may have made it
      if (why == kNoExportYet)
        fmt::print(stderr, "exporting {} to {} (once; later runs reuse it)\n", request.workload, model.folder.string());
      else
        fmt::print(stderr, "exporting {} to {} again: {}\n", request.workload, model.folder.string(), why);
      run_export(request, why != kNoExportYet);
      // The exporter and this check compute the key apart (tools/export_key.py): if they disagree,
      // say so now rather than export again on every run.
      if (const std::string still = export_needed(request, model.folder); !still.empty())
        fail("{} does not match its request right after its export: {}", model.folder.string(), still);
    }
  }
  const fs::path meta_path = model.folder / "meta.json";
  model.meta = read_meta(meta_path);
  try {
    // A missing file fails only the backends that load it (see the sweep).
    for (const auto& [format, file] : model.meta.at("files").items())
      model.files.by_format[format] = model.folder / file.get<std::string>();
    if (model.meta.contains("export_errors"))
      model.export_errors = model.meta["export_errors"].get<std::map<std::string, std::string>>();
    model.weights = model.meta.at("weights").get<std::string>();
    model.random_weights = model.meta.at("random_weights").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    fail("malformed {}: {}", meta_path.string(), e.what());
  }
  return model;
}

}  // namespace cpuinfer
