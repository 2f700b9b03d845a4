// Google Benchmark micro-benchmarks of the image pipeline (decode, PIL-exact resize, normalise):
// the per-sample cost `cpuinfer bench` pays before timing starts, and a later server pays per request.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "core/paths.h"
#include "data/image_decode.h"
#include "data/image_preprocess.h"
#include "data/image_resample.h"

namespace {

// An image of the built-in set: a JPEG of a few hundred pixels a side, like Imagenette's.
std::filesystem::path sample_jpeg() {
  return cpuinfer::default_cache_dir() / "data" / "fixtures" / "preprocess" / "odd_420.jpg";
}

void BM_DecodeJpeg(benchmark::State& state) {
  const auto file = sample_jpeg();
  for (auto _ : state) benchmark::DoNotOptimize(cpuinfer::decode_image(file));
}
BENCHMARK(BM_DecodeJpeg)->Unit(benchmark::kMicrosecond);

void BM_ResizeBilinear(benchmark::State& state) {
  const cpuinfer::Image image = cpuinfer::decode_image(sample_jpeg());
  const int shorter = static_cast<int>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(cpuinfer::resize_bilinear(image, shorter * image.width / image.height, shorter));
}
BENCHMARK(BM_ResizeBilinear)->Arg(232)->Arg(256)->Unit(benchmark::kMicrosecond);

void BM_Preprocess(benchmark::State& state) {
  const cpuinfer::Image image = cpuinfer::decode_image(sample_jpeg());
  std::vector<float> out(3 * 224 * 224);
  for (auto _ : state) {
    cpuinfer::preprocess_image(image, cpuinfer::ImagePreprocess{}, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Preprocess)->Unit(benchmark::kMicrosecond);

}  // namespace

