// Helpers shared by cpuinfer's tests: temporary folders, generated JPEG files, and the paths of
// what scripts/setup.sh prepared (the exported models, the preprocessing fixtures).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/subprocess.h"

namespace cpuinfer::testing {

// A fresh folder under the system temp dir, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes a seeded, smoothly varying RGB JPEG of the given size.
void write_jpeg(const std::filesystem::path& file, int width, int height, std::uint32_t seed);

// An Imagenette-layout folder <root>/val/<wnid>/ with `per_class` JPEGs in each of `classes` classes.
void write_image_folder(const std::filesystem::path& root, int classes, int per_class);

std::filesystem::path cache_dir();          // the cache setup.sh filled
std::filesystem::path resnet101_model();    // its exported random-weights ResNet-101 folder
std::filesystem::path preprocess_fixtures();
std::filesystem::path cpuinfer_binary();
// Runs the cpuinfer binary with `args`; stdout and stderr come back together.
ProcessResult run_cpuinfer(std::vector<std::string> args);

// Exactly one line starting with `prefix`, containing `culprit`, and a non-zero exit (no crash).
void expect_one_error(const ProcessResult& r, const std::string& culprit, const std::string& prefix = "cpuinfer: error:");
// The one file in `dir` with extension `ext` (a test failure if there are none or several).
std::filesystem::path only_file_with_extension(const std::filesystem::path& dir, const std::string& ext);

// Largest |a[i] - b[i]| over equal-length spans; infinity when any difference is NaN (a NaN on
// either side), so that a NaN fails every tolerance. std::max(d, fabs(x)) would swallow it.
double max_abs_difference(std::span<const float> a, std::span<const float> b);

std::string read_text(const std::filesystem::path& file);
void write_bytes(const std::filesystem::path& file, const std::vector<unsigned char>& bytes);

}  // namespace cpuinfer::testing
