// Test helpers: temp folders, JPEG writing through TurboJPEG, fixture paths.
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>

#include "core/paths.h"

namespace fs = std::filesystem;

namespace cpuinfer::testing {

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("cpuinfer-test-" + std::to_string(rd()) + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_jpeg(const fs::path& file, int width, int height, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> freq(0.01, 0.1);
  const double fx = freq(rng), fy = freq(rng), phase = freq(rng) * 60;
  std::vector<unsigned char> rgb(static_cast<std::size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[(static_cast<std::size_t>(y) * width + x) * 3 + c] =
            static_cast<unsigned char>(127.5 + 127 * std::sin(fx * x * (c + 1) + fy * y + phase));
  tjhandle tj = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  if (tjCompress2(tj, rgb.data(), width, 0, height, TJPF_RGB, &jpeg, &size, TJSAMP_420, 90, 0) != 0) {
    tjDestroy(tj);
    throw std::runtime_error(std::string("tjCompress2: ") + tjGetErrorStr2(tj));
  }
  write_bytes(file, std::vector<unsigned char>(jpeg, jpeg + size));
  tjFree(jpeg);
  tjDestroy(tj);
}

void write_image_folder(const fs::path& root, int classes, int per_class) {
  static const char* kWnids[] = {"n01440764", "n02102040", "n02979186", "n03000684", "n03028079",
                                 "n03394916", "n03417042", "n03425413", "n03445777", "n03888605"};
  for (int c = 0; c < classes; ++c) {
    const fs::path dir = root / "val" / kWnids[c];
    fs::create_directories(dir);
    for (int i = 0; i < per_class; ++i)
      write_jpeg(dir / ("img" + std::to_string(i) + ".JPEG"), 250 + 17 * i, 240 + 9 * c, c * 100 + i);
  }
}

fs::path cache_dir() { return default_cache_dir(); }
fs::path resnet101_model() { return cache_dir() / "models" / "resnet101-random-seed0"; }
fs::path preprocess_fixtures() { return cache_dir() / "data" / "fixtures" / "preprocess"; }
fs::path cpuinfer_binary() { return CPUINFER_BINARY; }

ProcessResult run_cpuinfer(std::vector<std::string> args) {
  args.insert(args.begin(), cpuinfer_binary().string());
  return run_process(args);
}

double max_abs_difference(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (std::isnan(d)) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, d);
  }
  return worst;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& file, const std::vector<unsigned char>& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

void expect_one_error(const ProcessResult& r, const std::string& culprit, const std::string& prefix) {
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, -1) << "crashed: " << r.output;
  std::vector<std::string> errors;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) errors.push_back(line);
  ASSERT_EQ(errors.size(), 1u) << r.output;
  EXPECT_NE(errors[0].find(culprit), std::string::npos) << errors[0];
}

std::filesystem::path only_file_with_extension(const std::filesystem::path& dir, const std::string& ext) {
  std::vector<std::filesystem::path> found;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ext) found.push_back(e.path());
  EXPECT_EQ(found.size(), 1u);
  return found.empty() ? std::filesystem::path() : found[0];
}

}  // namespace cpuinfer::testing
