// The reference's outputs in memory and in a small binary file: a magic line, then per unit its
// key length, key, value count and float32 values (native byte order: the file never leaves the
// machine, it lives for one sweep).
#include "bench/reference_outputs.h"

#include <cstdint>
#include <fstream>

#include "core/error.h"

namespace cpuinfer {

namespace {

constexpr char kMagic[] = "cpuinfer reference outputs 1\n";

void put(std::ofstream& out, std::uint64_t v) { out.write(reinterpret_cast<const char*>(&v), sizeof v); }

std::uint64_t get(std::ifstream& in, const std::filesystem::path& file) {
  std::uint64_t v = 0;
  if (!in.read(reinterpret_cast<char*>(&v), sizeof v)) fail("reference outputs {}: truncated", file.string());
  return v;
}

}  // namespace

const std::vector<float>* ReferenceOutputs::find(const Key& key) const {
  const auto it = by_unit_.find(key);
  return it == by_unit_.end() ? nullptr : &it->second;
}

void ReferenceOutputs::store(const Key& key, std::vector<float> values) { by_unit_[key] = std::move(values); }

void ReferenceOutputs::save(const std::filesystem::path& file) const {
  const std::filesystem::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(kMagic, sizeof kMagic - 1);
    put(out, by_unit_.size());
    for (const auto& [key, values] : by_unit_) {
      put(out, key.size());
      for (std::size_t s : key) put(out, s);
      put(out, values.size());
      out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
    }
    if (!out.flush()) fail("cannot write reference outputs {}", tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) fail("cannot write reference outputs {}: {}", file.string(), ec.message());
}

ReferenceOutputs ReferenceOutputs::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot read reference outputs {}", file.string());
  std::string magic(sizeof kMagic - 1, '\0');
  if (!in.read(magic.data(), static_cast<std::streamsize>(magic.size())) || magic != kMagic)
    fail("{} is not a reference outputs file", file.string());
  const std::uintmax_t bytes = std::filesystem::file_size(file);
  ReferenceOutputs ref;
  const std::uint64_t units = get(in, file);
  for (std::uint64_t u = 0; u < units; ++u) {
    const std::uint64_t key_size = get(in, file);
    if (key_size > bytes) fail("reference outputs {}: corrupt", file.string());
    Key key(key_size);
    for (auto& s : key) s = get(in, file);
    const std::uint64_t count = get(in, file);
    if (count > bytes / sizeof(float)) fail("reference outputs {}: corrupt", file.string());
    std::vector<float> values(count);
    if (!in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(count * sizeof(float))))
      fail("reference outputs {}: truncated", file.string());
    ref.store(key, std::move(values));
  }
  return ref;
}

}  // namespace cpuinfer
