// How fast cpuinfer loadgen's REST client drives a null endpoint: an HTTP server (cpuinfer serve's
// own, serve/http/http_server.h) that answers every inference at once with a fixed body, on one
// core, and the generator (driver and I/O thread) on the other. The goal: at least 20,000
// requests/s from the generator's one core. Counter requests_per_s; run it alone on the machine:
//   build/cpuinfer_loadgen_benchmarks --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <nlohmann/json.hpp>

#include "bench/workload.h"
#include "loadgen/endpoint.h"
#include "loadgen/load_driver.h"
#include "loadgen/rest_target.h"
#include "serve/http/http_server.h"

namespace cpuinfer::loadgen {
namespace {

// Samples of one FP32 input [1, 8]: what the null endpoint's metadata asks for.
class NullWorkload final : public Workload {
 public:
  std::string name() const override { return "null"; }
  const ExportedModel& model() const override { return model_; }
  nlohmann::ordered_json description() const override { return {{"name", "null"}}; }
  std::string dataset() const override { return "zeros"; }
  std::size_t size() const override { return 32; }
  bool labelled() const override { return false; }
  int label(std::size_t) const override { return 0; }
  std::vector<Tensor> batch(const PlannedBatch& b) const override { return {Tensor(DType::f32, {static_cast<std::int64_t>(b.samples.size()), 8})}; }

 private:
  ExportedModel model_;
};

serve::HttpResponse null_endpoint(const serve::HttpRequest& request) {
  if (request.target == "/v2") return {200, "application/json", {}, R"({"name": "null", "version": "0"})"};
  if (request.target == "/v2/models/null")
    return {200, "application/json", {}, R"({"name": "null", "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 8]}]})"};
  return {200, "application/json", {}, R"({"model_name": "null", "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 1], "data": [0]}]})"};
}

void pin_this_thread(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void BM_RestTargetNullEndpoint(benchmark::State& state) {
  const int concurrency = static_cast<int>(state.range(0));
  pin_this_thread(1);  // the server's thread is made now, and keeps this core
  serve::HttpServer server("127.0.0.1", 0, 1, {}, [](serve::HttpRequest request, serve::Respond respond) {
    respond(null_endpoint(request));
    return std::function<void()>{};
  });
  pin_this_thread(0);  // the generator's: this thread (the driver) and the target's I/O thread
  NullWorkload workload;
  RestTarget target(parse_endpoint("http://127.0.0.1:" + std::to_string(server.port()) + "/v2/models/null"), workload, nullptr, concurrency, 10);
  double rate = 0;
  for (auto _ : state) {
    Load load;
    load.concurrency = concurrency;
    load.seconds = 3;
    load.check_every = 0;
    const LoadRun run = drive(target, workload.size(), load);
    const QueryStats s = summarize_queries(run.records, run.seconds);
    if (s.errors) state.SkipWithError(s.first_error.value_or("errors").c_str());
    rate = s.qps;
  }
  state.counters["requests_per_s"] = rate;
  state.counters["concurrency"] = concurrency;
}
BENCHMARK(BM_RestTargetNullEndpoint)->Arg(1)->Arg(8)->Arg(32)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace
}  // namespace cpuinfer::loadgen
