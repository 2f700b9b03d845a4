// Google Benchmark of the engine as a library (libcpuinfer.so, the public API alone) beside ONNX
// Runtime's C++ API in the same setups: the goals of the library issue.
//  - Concurrent runs of one shared model: ResNet-101 (the cache's random-weights export), batch 1,
//    1 intra-op thread per run, from 1 and 2 threads (native: a Session per thread on one Model;
//    ORT: one Ort::Session, which is thread-safe, run from every thread). items_per_second is the
//    throughput of all threads together: 2 threads over 1 is the scaling.
//  - Peak RSS of 1 and 2 concurrent runs on one model (counter peak_rss_MB, the process's
//    ru_maxrss): peak RSS is per process, so run each alone, e.g.
//    --benchmark_filter='PeakRss/native/runs:2/' (benchmarks/library_goals.py does).
//  - One run of a tiny model (MatMul [N, 8] x [8, 5], Relu; N = 3): the per-run cost the Python
//    module's overhead is measured against (benchmarks/python_overhead.py).
#include <benchmark/benchmark.h>
#include <onnxruntime_cxx_api.h>
#include <sys/resource.h>

#include <cpuinfer/cpuinfer.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "../tests/engine/onnx_builder.h"
#include "backends/ort/ort_session_options.h"

namespace fs = std::filesystem;

namespace {

fs::path resnet101() {
  const char* cache = std::getenv("CPUINFER_CACHE");
  return (cache && *cache ? fs::path(cache) : fs::path(CPUINFER_SOURCE_DIR) / ".cache") / "models" /
         "resnet101-random-seed0" / "model.onnx";
}

// The tiny model of the Python overhead figure, written once to the temp folder.
fs::path tiny_model() {
  static const fs::path file = [] {
    cpuinfer::test::OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {"N", "8"});
    std::vector<float> w(8 * 5);
    std::mt19937 random(1);
    std::normal_distribution<float> normal;
    for (float& v : w) v = normal(random);
    b.initializer("w", {8, 5}, w);
    b.node("MatMul", {"x", "w"}, {"m"});
    b.node("Relu", {"m"}, {"y"});
    b.output("y");
    const fs::path f = fs::temp_directory_path() / "cpuinfer-library-benchmark-tiny.onnx";
    std::ofstream(f, std::ios::binary) << b.bytes();
    return f;
  }();
  return file;
}

std::vector<float> input_values(std::size_t n) {
  std::vector<float> v(n);
  std::mt19937 random(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& x : v) x = uniform(random);
  return v;
}

// One runtime's model loaded once, run from several threads at a time.
class Runner {
 public:
  virtual ~Runner() = default;
  virtual void run(int thread) = 0;
};

class NativeRunner : public Runner {
 public:
  NativeRunner(const fs::path& file, std::vector<std::int64_t> shape, int threads)
      : model_(file, cpuinfer::Options{.threads = 1}), shape_(std::move(shape)), x_(count(shape_)) {
    for (int t = 0; t < threads; ++t) sessions_.emplace_back(model_);
  }
  void run(int thread) override {
    auto y = sessions_[static_cast<std::size_t>(thread)].run({{cpuinfer::ElementType::float32, shape_, x_.data()}});
    benchmark::DoNotOptimize(y.front().data());
  }
  static std::size_t count(const std::vector<std::int64_t>& shape) {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    return n;
  }

 private:
  cpuinfer::Model model_;
  std::vector<cpuinfer::Session> sessions_;
  std::vector<std::int64_t> shape_;
  std::vector<float> x_;
};

class OrtRunner : public Runner {
 public:
  OrtRunner(const fs::path& file, std::vector<std::int64_t> shape)
      : session_(cpuinfer::ort_env(), file.c_str(), cpuinfer::ort_session_options(cpuinfer::OrtLevel::all, 1)),
        shape_(std::move(shape)),
        x_(input_values(NativeRunner::count(shape_))) {
    Ort::AllocatorWithDefaultOptions allocator;
    input_ = session_.GetInputNameAllocated(0, allocator).get();
    output_ = session_.GetOutputNameAllocated(0, allocator).get();
  }
  void run(int) override {
    const auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    Ort::Value x = Ort::Value::CreateTensor<float>(memory, x_.data(), x_.size(), shape_.data(), shape_.size());
    const char* in = input_.c_str();
    const char* out = output_.c_str();
    auto y = session_.Run(Ort::RunOptions{nullptr}, &in, &x, 1, &out, 1);
    benchmark::DoNotOptimize(y.front().GetTensorRawData());
  }

 private:
  Ort::Session session_;
  std::vector<std::int64_t> shape_;
  std::vector<float> x_;
  std::string input_, output_;
};

std::unique_ptr<Runner> make_runner(bool ort, const fs::path& file, const std::vector<std::int64_t>& shape, int threads) {
  if (ort) return std::make_unique<OrtRunner>(file, shape);
  return std::make_unique<NativeRunner>(file, shape, threads);
}

// The model a multi-threaded benchmark's threads share: made by its thread 0.
std::unique_ptr<Runner> shared;

void concurrent_runs(benchmark::State& state, bool ort) {
  const fs::path file = resnet101();
  if (!fs::exists(file)) {
    state.SkipWithError("no ResNet-101 export in the cache: run scripts/setup.sh");
    return;
  }
  // Not timed: the other threads wait for it at the loop's start, Google Benchmark's barrier.
  if (state.thread_index() == 0) shared = make_runner(ort, file, {1, 3, 224, 224}, state.threads());
  for (auto _ : state) shared->run(state.thread_index());
  state.SetItemsProcessed(state.iterations());
  state.counters["intra_op_threads"] = 1;
}

void BM_ConcurrentRuns_native(benchmark::State& state) { concurrent_runs(state, false); }
void BM_ConcurrentRuns_ort(benchmark::State& state) { concurrent_runs(state, true); }
BENCHMARK(BM_ConcurrentRuns_native)->Name("ConcurrentRuns/native/resnet101_b1")->Threads(1)->Threads(2)->UseRealTime()->MinTime(5);
BENCHMARK(BM_ConcurrentRuns_ort)->Name("ConcurrentRuns/ort/resnet101_b1")->Threads(1)->Threads(2)->UseRealTime()->MinTime(5);

// Loads the model, then `runs` threads each run it 3 times at once; the process's peak RSS.
void peak_rss(benchmark::State& state, bool ort) {
  const fs::path file = resnet101();
  if (!fs::exists(file)) {
    state.SkipWithError("no ResNet-101 export in the cache: run scripts/setup.sh");
    return;
  }
  const int runs = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto runner = make_runner(ort, file, {1, 3, 224, 224}, runs);
    std::vector<std::thread> threads;
    for (int t = 0; t < runs; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 3; ++i) runner->run(t);
      });
    for (auto& t : threads) t.join();
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["peak_rss_MB"] = static_cast<double>(usage.ru_maxrss) / 1024.0;
}

void BM_PeakRss_native(benchmark::State& state) { peak_rss(state, false); }
void BM_PeakRss_ort(benchmark::State& state) { peak_rss(state, true); }
BENCHMARK(BM_PeakRss_native)->Name("PeakRss/native")->ArgName("runs")->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PeakRss_ort)->Name("PeakRss/ort")->ArgName("runs")->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond);

void tiny_run(benchmark::State& state, bool ort) {
  auto runner = make_runner(ort, tiny_model(), {3, 8}, 1);
  for (auto _ : state) runner->run(0);
  state.SetItemsProcessed(state.iterations());
}

void BM_TinyRun_native(benchmark::State& state) { tiny_run(state, false); }
void BM_TinyRun_ort(benchmark::State& state) { tiny_run(state, true); }
BENCHMARK(BM_TinyRun_native)->Name("TinyRun/native")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TinyRun_ort)->Name("TinyRun/ort")->Unit(benchmark::kMicrosecond);

}  // namespace
