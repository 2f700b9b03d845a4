// The reference backend's outputs, which every other backend's are compared with. A unit is what
// is compared at once: one sample's slice of the outputs when they have the batch as their first
// dimension, else a whole batch's outputs, keyed by the samples of that batch. Saved to a file
// after every row of the reference, so that backends in other processes (and a sweep whose
// reference crashed later on) can read it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace cpuinfer {

class ReferenceOutputs {
 public:
  using Key = std::vector<std::size_t>;  // the samples of a unit, in batch order

  // The reference's outputs for `key`; nullptr if it has none.
  const std::vector<float>* find(const Key& key) const;
  void store(const Key& key, std::vector<float> values);
  bool empty() const { return by_unit_.empty(); }

  // Atomic (temporary file + rename). Throws cpuinfer::Error.
  void save(const std::filesystem::path& file) const;
  // Throws cpuinfer::Error naming the file if it is not one save() wrote.
  static ReferenceOutputs load(const std::filesystem::path& file);

 private:
  std::map<Key, std::vector<float>> by_unit_;
};

}  // namespace cpuinfer
