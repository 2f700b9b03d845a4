// Image classification workload (ResNet-101, Imagenette layout).
#include "bench/image_classification_workload.h"

#include <atomic>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "bench/progress.h"
#include "core/error.h"
#include "data/image_decode.h"
#include "data/image_folder.h"
#include "data/image_preprocess.h"
#include "data/sampling.h"

namespace fs = std::filesystem;

namespace cpuinfer {

namespace {

ImagePreprocess preprocess_from_meta(const nlohmann::json& meta) {
  ImagePreprocess p;
  try {
    const auto& j = meta.at("preprocess");
    p.resize = j.at("resize").get<int>();
    p.crop = j.at("crop").get<int>();
    p.mean = j.at("mean").get<std::array<float, 3>>();
    p.std = j.at("std").get<std::array<float, 3>>();
  } catch (const nlohmann::json::exception& e) {
    fail("model meta.json has no valid preprocess section: {}", e.what());
  }
  if (p.crop <= 0 || p.crop > 4096 || p.resize < p.crop || p.resize > 8192)
    fail("model meta.json preprocess sizes resize={} crop={} are invalid", p.resize, p.crop);
  return p;
}

// The built-in set names itself in dataset.json; a user's folder is named by its path.
std::string dataset_name(const fs::path& root, bool builtin) {
  if (!builtin) return fs::absolute(root).lexically_normal().string();
  std::ifstream in(root / "dataset.json");
  try {
    return in ? nlohmann::json::parse(in).at("name").get<std::string>() : "built-in images";
  } catch (const nlohmann::json::exception&) {
    return "built-in images";
  }
}

class ImageClassificationWorkload final : public Workload {
 public:
  ImageClassificationWorkload(const WorkloadOptions& options, Progress& progress) : name_(options.name) {
    if (!options.padding.empty() || !options.text_lengths.empty() || options.max_length)
      fail("--padding, --text-lengths and --max-length apply to text workloads, not {}", options.name);
    const bool builtin = !options.data;
    const fs::path root = builtin ? options.cache / "data" / "images" : *options.data;
    if (builtin && !fs::exists(root))
      fail("built-in image set missing at {}: run scripts/setup.sh or give --data", root.string());
    dataset_ = dataset_name(root, builtin);
    const std::vector<LabelledFile> all = list_image_folder(root);  // checked before an export runs
    if (options.samples > all.size())
      fail("--samples {} exceeds the {} images in {}", options.samples, all.size(), root.string());
    std::vector<int> labels;
    for (const auto& f : all) labels.push_back(f.label);
    for (std::size_t i : spread_subset(labels, options.samples, options.seed)) files_.push_back(all[i]);
    // int8 calibration, if the export runs now, uses images of this run's data set.
    ModelRequest request{options.name, options.cache / "models", options.weights, options.weights_seed, root};
    request.check_current = options.check_export;
    model_ = prepare_model(request);
    preprocess_ = preprocess_from_meta(model_.meta);
    load_samples(options.threads, progress);
  }

  std::string name() const override { return name_; }
  const ExportedModel& model() const override { return model_; }
  std::string dataset() const override { return dataset_; }
  nlohmann::ordered_json description() const override {
    return {{"dataset", dataset_},
            {"samples", files_.size()},
            {"preprocess",
             {{"resize_shorter_side", preprocess_.resize},
              {"center_crop", preprocess_.crop},
              {"interpolation", "bilinear (PIL)"},
              {"mean", preprocess_.mean},
              {"std", preprocess_.std}}}};
  }
  std::size_t size() const override { return files_.size(); }
  int label(std::size_t sample) const override { return files_.at(sample).label; }

  std::vector<Tensor> batch(const PlannedBatch& planned) const override {
    const auto& samples = planned.samples;
    const std::size_t per_sample = sample_floats();
    Tensor t(DType::f32, {static_cast<std::int64_t>(samples.size()), 3, preprocess_.crop, preprocess_.crop});
    auto dst = t.values<float>();
    for (std::size_t i = 0; i < samples.size(); ++i)
      std::memcpy(&dst[i * per_sample], &pixels_.at(samples[i] * per_sample), per_sample * sizeof(float));
    std::vector<Tensor> inputs;
    inputs.push_back(std::move(t));
    return inputs;
  }

 private:
  std::size_t sample_floats() const { return 3 * static_cast<std::size_t>(preprocess_.crop) * preprocess_.crop; }

  // Decodes and preprocesses every sample once, on `threads` threads.
  void load_samples(int threads, Progress& progress) {
    pixels_.assign(files_.size() * sample_floats(), 0.0f);
    progress.start("preparing images", files_.size());
    std::atomic<std::size_t> next{0};
    std::mutex mutex;
    std::string error;
    auto work = [&] {
      for (std::size_t i; (i = next.fetch_add(1)) < files_.size();) {
        try {
          Image image = decode_image(files_[i].path);  // its errors name the file
          try {
            preprocess_image(image, preprocess_, std::span(&pixels_[i * sample_floats()], sample_floats()));
          } catch (const std::exception& e) {
            fail("{}: {}", files_[i].path.string(), e.what());
          }
        } catch (const std::exception& e) {  // nothing may leave a worker thread
          std::lock_guard lock(mutex);
          if (error.empty()) error = e.what();
          next = files_.size();
        }
        std::lock_guard lock(mutex);
        progress.advance();
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < std::max(threads, 1); ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (!error.empty()) fail("{}", error);
    progress.finish(fmt::format("{} images from {}", files_.size(), dataset_));
  }

  std::string name_;
  ExportedModel model_;
  ImagePreprocess preprocess_;
  std::string dataset_;
  std::vector<LabelledFile> files_;
  std::vector<float> pixels_;
};

}  // namespace

std::unique_ptr<Workload> make_image_classification_workload(const WorkloadOptions& options, Progress& progress) {
  return std::make_unique<ImageClassificationWorkload>(options, progress);
}

}  // namespace cpuinfer
