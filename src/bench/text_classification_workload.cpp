// Text classification workload (BERT, IMDB-style data).
#include "bench/text_classification_workload.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>

#include "bench/progress.h"
#include "core/error.h"
#include "data/sampling.h"
#include "data/text_dataset.h"
#include "data/wordpiece_tokenizer.h"

namespace fs = std::filesystem;

namespace cpuinfer {

namespace {

const std::vector<std::string> kStrategies = {"longest", "max", "bucket"};
const char* kBuiltinName = "built-in IMDB sentences (npm sentiment@5.0.2)";

class TextClassificationWorkload final : public Workload {
 public:
  TextClassificationWorkload(const WorkloadOptions& o, Progress& progress) : name_(o.name) {
    padding_ = o.padding.empty() ? std::vector<std::string>{"longest"} : o.padding;
    for (const auto& p : padding_)
      if (std::find(kStrategies.begin(), kStrategies.end(), p) == kStrategies.end())
        fail("unknown padding strategy '{}': use {}", p, fmt::join(kStrategies, ", "));
    text_lengths_ = o.text_lengths.empty() ? "sentences" : o.text_lengths;
    if (text_lengths_ != "sentences" && text_lengths_ != "imdb")
      fail("unknown --text-lengths '{}': use sentences or imdb", text_lengths_);


    const fs::path source = o.data ? *o.data : o.cache / "data" / "text" / "imdb-sentences.json";
    if (!o.data && !fs::exists(source))
      fail("built-in text data missing at {}: run scripts/setup.sh or give --data", source.string());
    std::vector<TextSample> all = load_text_dataset(source);
    dataset_ = o.data ? fs::absolute(source).lexically_normal().string() : kBuiltinName;
    if (text_lengths_ == "imdb") {
      all = synthesize_review_lengths(all, o.samples ? o.samples : all.size(), o.seed);
      dataset_ += ", concatenated into review-length texts (seeded)";
    }
    if (o.samples > all.size())
      fail("--samples {} exceeds the {} texts of {}", o.samples, all.size(), dataset_);
    std::vector<int> labels;
    for (const auto& s : all) labels.push_back(s.label);
    for (std::size_t i : spread_subset(labels, o.samples, o.seed)) samples_.push_back(std::move(all[i]));
    // The data is checked before the model: an export can take minutes.
    ModelRequest request{o.name, o.cache / "models", o.weights, o.weights_seed, std::nullopt};
    request.check_current = o.check_export;
    model_ = prepare_model(request);
    load_tokenizer(o.max_length);
    tokenize_all(progress);
  }

  std::string name() const override { return name_; }
  const ExportedModel& model() const override { return model_; }
  std::string dataset() const override { return dataset_; }
  std::size_t size() const override { return samples_.size(); }
  int label(std::size_t sample) const override { return samples_.at(sample).label; }
  std::vector<std::string> variants() const override { return padding_; }

  nlohmann::ordered_json description() const override {
    std::size_t tokens = 0, truncated = 0, longest = 0;
    for (const auto& e : encodings_) {
      tokens += e.input_ids.size();
      truncated += e.truncated;
      longest = std::max(longest, e.input_ids.size());
    }
    return {{"dataset", dataset_},
            {"samples", samples_.size()},
            {"text_lengths", text_lengths_},
            {"tokenizer", {{"vocab", tokenizer_file_.string()}, {"lowercase", lowercase_}, {"max_length", max_length_}}},
            {"mean_tokens", static_cast<double>(tokens) / static_cast<double>(encodings_.size())},
            {"longest_tokens", longest},
            {"truncated_samples", truncated},
            {"padding", padding_},
            {"bucket_window_batches", kBucketWindow}};
  }

  std::vector<PlannedBatch> plan(std::size_t batch_size, const std::string& variant) const override {
    std::vector<std::size_t> lengths;
    for (const auto& e : encodings_) lengths.push_back(e.input_ids.size());
    return plan_padded_batches(lengths, batch_size, variant, max_length_);
  }

  nlohmann::ordered_json plan_stats(const std::vector<PlannedBatch>& plan) const override {
    std::size_t real = 0, computed = 0, samples = 0;
    for (const auto& b : plan) {
      for (std::size_t s : b.samples) real += encodings_[s].input_ids.size();
      computed += b.samples.size() * b.length;
      samples += b.samples.size();
    }
    return {{"mean_real_tokens", samples ? static_cast<double>(real) / static_cast<double>(samples) : 0.0},
            {"padding_fraction", computed ? 1.0 - static_cast<double>(real) / static_cast<double>(computed) : 0.0}};
  }

  PlannedBatch batch_of(std::vector<std::size_t> samples) const override {
    PlannedBatch b{std::move(samples), 0};
    for (std::size_t s : b.samples) b.length = std::max(b.length, encodings_.at(s).input_ids.size());
    return b;
  }
  std::optional<std::string> text(std::size_t sample) const override { return samples_.at(sample).text; }

  std::vector<Tensor> batch(const PlannedBatch& planned) const override {
    const auto b = static_cast<std::int64_t>(planned.samples.size());
    const auto length = static_cast<std::int64_t>(planned.length);
    Tensor ids(DType::i64, {b, length}), mask(DType::i64, {b, length}), types(DType::i64, {b, length});
    auto id = ids.values<std::int64_t>();
    auto m = mask.values<std::int64_t>();
    std::fill(id.begin(), id.end(), tokenizer_->pad_id());
    for (std::int64_t i = 0; i < b; ++i) {
      const Encoding& e = encodings_.at(planned.samples[static_cast<std::size_t>(i)]);
      if (e.input_ids.size() > planned.length)
        fail("sample of {} tokens planned into a batch padded to {}", e.input_ids.size(), planned.length);
      std::copy(e.input_ids.begin(), e.input_ids.end(), id.begin() + i * length);
      std::fill_n(m.begin() + i * length, e.input_ids.size(), 1);
    }
    std::vector<Tensor> inputs;  // token_type_ids stay 0: one segment
    inputs.push_back(std::move(ids));
    inputs.push_back(std::move(mask));
    inputs.push_back(std::move(types));
    return inputs;
  }

 private:
  void load_tokenizer(std::size_t requested_max) {
    try {
      const auto& t = model_.meta.at("tokenizer");
      tokenizer_file_ = model_.folder / t.at("vocab").get<std::string>();
      lowercase_ = t.value("lowercase", true);
      const auto model_max = t.at("max_length").get<std::size_t>();
      max_length_ = requested_max ? requested_max : model_max;
      if (max_length_ < 2 || max_length_ > model_max)
        fail("--max-length {} is outside 2..{} (the model's position embeddings)", max_length_, model_max);
    } catch (const nlohmann::json::exception& e) {
      fail("model {} has no valid tokenizer section in meta.json: {}", model_.folder.string(), e.what());
    }
    tokenizer_ = std::make_unique<WordPieceTokenizer>(WordPieceTokenizer::from_file(tokenizer_file_, lowercase_));
  }

  void tokenize_all(Progress& progress) {
    progress.start("tokenizing", samples_.size());
    for (const auto& s : samples_) {
      try {
        encodings_.push_back(tokenizer_->encode(s.text, max_length_));
      } catch (const Error& e) {
        fail("{}: {}", s.origin, e.what());
      }
      progress.advance();
    }
    progress.finish(fmt::format("{} texts from {}", samples_.size(), dataset_));
  }

  std::string name_;
  ExportedModel model_;
  std::vector<std::string> padding_;
  std::string text_lengths_;
  std::string dataset_;
  fs::path tokenizer_file_;
  bool lowercase_ = true;
  std::size_t max_length_ = 512;
  std::unique_ptr<WordPieceTokenizer> tokenizer_;
  std::vector<TextSample> samples_;
  std::vector<Encoding> encodings_;
};

}  // namespace

std::vector<PlannedBatch> plan_padded_batches(const std::vector<std::size_t>& lengths, std::size_t batch_size,
                                              const std::string& strategy, std::size_t max_length) {
  if (batch_size == 0) fail("batch size 0");
  const std::size_t used = lengths.size() / batch_size * batch_size;
  std::vector<std::size_t> order(used);
  std::iota(order.begin(), order.end(), 0);
  if (strategy == "bucket") {
    const std::size_t window = kBucketWindow * batch_size;
    for (std::size_t w = 0; w < used; w += window) {
      std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(w),
                       order.begin() + static_cast<std::ptrdiff_t>(std::min(used, w + window)),
                       [&](std::size_t a, std::size_t b) { return lengths[a] < lengths[b]; });
    }
  } else if (strategy != "longest" && strategy != "max") {
    fail("unknown padding strategy '{}'", strategy);
  }
  std::vector<PlannedBatch> batches(used / batch_size);
  for (std::size_t b = 0; b < batches.size(); ++b) {
    auto& batch = batches[b];
    batch.samples.assign(order.begin() + static_cast<std::ptrdiff_t>(b * batch_size),
                         order.begin() + static_cast<std::ptrdiff_t>((b + 1) * batch_size));
    for (std::size_t s : batch.samples) batch.length = std::max(batch.length, lengths[s]);
    if (strategy == "max") batch.length = max_length;
  }
  return batches;
}

std::unique_ptr<Workload> make_text_classification_workload(const WorkloadOptions& options, Progress& progress) {
  return std::make_unique<TextClassificationWorkload>(options, progress);
}

}  // namespace cpuinfer
