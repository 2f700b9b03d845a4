// cpuinfer::Model: the engine's session (thread-safe, engine/session.h) and the thread budget.
#include <cpuinfer/model.h>

#include "api/model_impl.h"
#include "core/machine.h"
#include "engine/limits.h"
#include "engine/onnx/import.h"

namespace cpuinfer {

namespace {

// Intra-op threads per run: Options::threads, 0 for every usable core.
int run_threads(const Options& o) {
  if (o.threads < 0) fail("threads {} is negative", o.threads);
  return o.threads > 0 ? o.threads : std::max(1, read_machine_info().usable_cores);
}

engine::SessionOptions engine_options(const Options& o, int threads) {
  engine::SessionOptions e;
  e.threads = threads;
  e.bf16 = o.precision == Precision::bf16;
  e.int8 = o.precision == Precision::int8;
  e.fuse = o.fuse;
  e.pack_tokens = o.pack_tokens;
  e.blocked_layout = o.blocked_layout;
  e.winograd = o.winograd;
  return e;
}

engine::Session load(const std::filesystem::path& file, const Options& o, int threads) {
  const CallerThreads keep;
  const engine::TensorLimitScope limit(o.max_tensor_bytes);
  return engine::Session(engine::import_onnx_file(file), engine_options(o, threads));
}

}  // namespace

Model::Impl::Impl(const std::filesystem::path& file, const Options& o)
    : options(o),
      threads(run_threads(o)),
      engine(load(file, o, threads)),
      slots(std::max<std::ptrdiff_t>(1, std::max(1, read_machine_info().usable_cores) / threads)) {
  for (const auto& spec : engine.inputs()) inputs.push_back(api::to_info(spec));
  for (const auto& spec : engine.outputs()) outputs.push_back(api::to_info(spec));
}

Model::Model(const std::filesystem::path& onnx_file, const Options& options)
    : impl_(std::make_shared<Impl>(onnx_file, options)) {}

const std::vector<TensorInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Model::outputs() const { return impl_->outputs; }
const Options& Model::options() const { return impl_->options; }
std::string Model::engine_version() { return engine::engine_version(); }

}  // namespace cpuinfer
