// Backends x batch sizes, with timing, accuracy and agreement with the reference backend.
#include "bench/sweep.h"

#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>

#include "backends/registry.h"
#include "bench/metrics.h"
#include "bench/progress.h"
#include "bench/quantized_model.h"
#include "bench/result_files.h"
#include "bench/workload.h"
#include "core/error.h"
#include "core/machine.h"

namespace cpuinfer {

std::vector<std::string> sweep_order(const SweepOptions& options) {
  std::vector<std::string> order;
  if (!options.reference.empty()) order.push_back(options.reference);
  for (const auto& b : options.backends)
    if (b != options.reference) order.push_back(b);
  return order;
}

namespace {

using Clock = std::chrono::steady_clock;

// Per-sample outputs of the reference backend (flattened first output), filled as it runs.
struct ReferenceOutputs {
  std::string backend;  // empty until a backend has loaded and been chosen as the reference
  std::vector<std::vector<float>> by_sample;
};

// Each sample's outputs as floats: its slice of every output along the batch dimension, the
// outputs one after another. A labelled (classification) workload must give B x C float logits first.
struct PerSample {
  std::vector<std::vector<float>> values;
  std::size_t first_output_size = 0;
};

PerSample split_per_sample(const std::vector<Tensor>& outputs, std::size_t batch_size, bool labelled) {
  if (outputs.empty()) fail("the model gave no outputs");
  if (labelled && (outputs[0].dtype() != DType::f32 || outputs[0].rank() != 2 ||
                   outputs[0].dim(0) != static_cast<std::int64_t>(batch_size)))
    fail("output 0 has shape {}, expected {}xC float32 logits", shape_string(outputs[0].shape()), batch_size);
  PerSample s;
  s.values.resize(batch_size);
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const Tensor& out = outputs[k];
    if (out.rank() == 0 || out.dim(0) != static_cast<std::int64_t>(batch_size))
      fail("output {} has shape {}: expected the batch size {} as its first dimension", k, shape_string(out.shape()), batch_size);
    const std::size_t per = out.numel() / batch_size;
    if (k == 0) s.first_output_size = per;
    const Tensor values = cast(out, DType::f32);
    const float* v = values.values<float>().data();
    for (std::size_t i = 0; i < batch_size; ++i) s.values[i].insert(s.values[i].end(), v + i * per, v + (i + 1) * per);
  }
  return s;
}

nlohmann::ordered_json base_row(const Workload& w, const Backend& b, int batch_size, const std::string& variant,
                                const SweepOptions& o) {
  nlohmann::ordered_json row;
  row["name"] = b.name();
  row["batch_size"] = batch_size;
  row["time_per_input"] = nullptr;
  row["total_time"] = nullptr;
  row["accuracy"] = nullptr;
  row["workload"] = w.name();
  row["padding"] = variant.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(variant);
  row["samples"] = 0;
  row["threads"] = o.threads;
  row["backend_version"] = b.version();
  row["weights"] = w.model().weights;
  row["dataset"] = w.dataset();
  row["settings"] = b.settings();
  row["warmup_batches"] = o.warmup;
  return row;
}

nlohmann::ordered_json optional_number(std::optional<double> v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

// Runs one (backend, batch size, variant) and fills the row's measurements. Throws on a run failure.
void measure(const Workload& w, Backend& backend, int batch_size, const std::string& variant, const SweepOptions& o,
             ReferenceOutputs& ref, nlohmann::ordered_json& row, Progress& progress) {
  const std::vector<PlannedBatch> plan = w.plan(static_cast<std::size_t>(batch_size), variant);
  if (plan.empty()) fail("no full batch of {} in {} samples", batch_size, w.size());
  row.update(w.plan_stats(plan));
  // Cold start at this batch size: the first call, where a runtime plans for the new shape (the
  // first warm-up call, or the first timed one without warm-up).
  if (o.warmup > 0) {
    const std::vector<Tensor> first = w.batch(plan.front());
    const auto start = Clock::now();
    backend.run(first);
    row["first_batch_ms"] = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    backend.warm_up(first, o.warmup - 1);
  }

  std::vector<double> latencies_ms;
  std::size_t correct = 0;
  Agreement agreement;
  const bool is_reference = ref.backend == backend.name();
  const std::size_t samples = plan.size() * static_cast<std::size_t>(batch_size);
  progress.start(fmt::format("{} {} batch {}{}", w.name(), backend.name(), batch_size,
                             variant.empty() ? "" : " " + variant),
                 samples);
  for (const PlannedBatch& planned : plan) {
    const std::vector<Tensor> inputs = w.batch(planned);
    const auto start = Clock::now();
    const std::vector<Tensor> outputs = backend.run(inputs);
    const auto stop = Clock::now();
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());

    const PerSample per_sample = split_per_sample(outputs, static_cast<std::size_t>(batch_size), w.labelled());
    for (std::size_t i = 0; i < static_cast<std::size_t>(batch_size); ++i) {
      const std::size_t sample = planned.samples[i];
      const std::span<const float> values = per_sample.values[i];
      const std::size_t top1 = w.classifies() ? per_sample.first_output_size : 0;
      if (w.labelled() && static_cast<int>(argmax(values.first(top1))) == w.label(sample)) ++correct;
      auto& stored = ref.by_sample[sample];
      if (!stored.empty()) {
        agreement.add(values, stored, top1);
      } else if (is_reference) {
        stored.assign(values.begin(), values.end());
      }
    }
    progress.advance(batch_size);
  }
  if (o.warmup == 0) row["first_batch_ms"] = latencies_ms.front();
  const double total_s = std::accumulate(latencies_ms.begin(), latencies_ms.end(), 0.0) / 1000.0;
  const auto n = static_cast<double>(samples);
  row["time_per_input"] = total_s / n;
  row["total_time"] = total_s;
  row["accuracy"] = w.labelled() ? nlohmann::ordered_json(static_cast<double>(correct) / n) : nullptr;
  row["samples"] = samples;
  row["samples_per_s"] = n / total_s;
  row["latency_p50_ms"] = percentile(latencies_ms, 0.50);
  row["latency_p90_ms"] = percentile(latencies_ms, 0.90);
  row["latency_p99_ms"] = percentile(latencies_ms, 0.99);
  row["top1_agreement"] = optional_number(agreement.top1_agreement());
  row["max_abs_diff"] = agreement.compared ? nlohmann::ordered_json(agreement.max_abs_diff) : nullptr;
  row["max_rel_diff"] = optional_number(agreement.max_rel_diff());
  row["compared_samples"] = agreement.compared;
  row["latencies_ms"] = latencies_ms;
  progress.finish(fmt::format("{:.1f} ms/batch median", percentile(latencies_ms, 0.5)));
}

void finish_row(nlohmann::ordered_json& row, const ReferenceOutputs& ref, const std::string& status, bool rss_reset,
                std::optional<double> load_ms) {
  row["reference"] = ref.backend.empty() ? nullptr : nlohmann::ordered_json(ref.backend);
  row["peak_rss_mb"] = static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0);
  // "backend": the peak since this backend started loading; "process": the kernel refused the reset.
  row["peak_rss_scope"] = rss_reset ? "backend" : "process";
  row["load_ms"] = optional_number(load_ms);
  row["status"] = status;
}

}  // namespace

void check_sweep(const Workload& w, const SweepOptions& o) {
  for (int b : o.batch_sizes) {
    if (b <= 0) fail("invalid batch size {}: must be at least 1", b);
    if (static_cast<std::size_t>(b) > w.max_batch_size() && w.max_batch_size() < w.size())
      fail("batch size {}: {} has no batch dimension (no symbolic first dimension left open): use --batch-sizes 1", b,
           w.name());
    if (static_cast<std::size_t>(b) > w.size())
      fail("batch size {} exceeds the {} samples of the run: use --samples {} or more", b, w.size(), b);
  }
}

void run_sweep(const Workload& w, const SweepOptions& o, ResultFiles& results, Progress& progress) {
  check_sweep(w, o);
  const BackendOptions backend_options{o.threads};
  std::vector<std::unique_ptr<Backend>> backends;
  for (const auto& name : sweep_order(o)) backends.push_back(make_backend(name, backend_options));

  // The int8 model of native-int8 and ort-int8, made from the export before any backend loads.
  ModelFiles files = w.model().files;
  std::map<std::string, std::string> export_errors = w.model().export_errors;
  if (std::ranges::any_of(backends, [](const auto& b) { return b->format() == kInt8Format; })) {
    try {
      files.by_format[kInt8Format] = quantized_model(w, o.threads, o.calibration, progress);
    } catch (const Error& e) {
      export_errors[kInt8Format] = e.what();
    }
  }

  ReferenceOutputs ref;
  ref.by_sample.resize(w.size());
  for (auto& backend : backends) {
    const bool rss_reset = reset_peak_rss();
    std::string load_error;
    std::optional<double> load_ms;  // model file to ready session
    const auto file = files.by_format.find(backend->format());
    if (file == files.by_format.end()) {
      const auto why = export_errors.find(backend->format());
      load_error = why != export_errors.end()
                       ? fmt::format("failed: export: {}", why->second)
                       : fmt::format("unsupported: no {} export of {}", backend->format(), w.name());
    } else if (!std::filesystem::is_regular_file(file->second)) {
      load_error = fmt::format("failed: load: model file not found: {}", file->second.string());
    } else {
      backend->inspect(file->second);  // not part of loading: before the clock starts
      try {
        const auto start = Clock::now();
        backend->load(file->second);
        load_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        // The first backend that loads is the reference if the requested one could not.
        if (ref.backend.empty()) ref.backend = backend->name();
      } catch (const Unsupported& e) {
        load_error = fmt::format("unsupported: load: {}", e.what());
      } catch (const Error& e) {
        load_error = fmt::format("failed: load: {}: {}", file->second.filename().string(), e.what());
      }
    }
    for (int batch_size : o.batch_sizes) {
      for (const std::string& variant : w.variants()) {
        nlohmann::ordered_json row = base_row(w, *backend, batch_size, variant, o);
        std::string status = load_error.empty() ? "ok" : load_error;
        if (load_error.empty()) {
          try {
            measure(w, *backend, batch_size, variant, o, ref, row, progress);
          } catch (const Unsupported& e) {
            progress.finish("unsupported");
            status = fmt::format("unsupported: run: {}", e.what());
          } catch (const Error& e) {
            progress.finish("failed");
            status = fmt::format("failed: run: {}", e.what());
          }
        }
        finish_row(row, ref, status, rss_reset, load_ms);
        results.append(std::move(row));
      }
    }
    backend.reset();  // free its memory and thread pool before the next backend runs
    malloc_trim(0);   // and give the heap it freed back, so the next backend's peak RSS starts low
  }
}

}  // namespace cpuinfer
