// A served model version: requests checked, queued, batched, run and answered
// (serve/models/served_model.h).
#include "serve/models/served_model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "data/text_inputs.h"
#include "engine/onnx/import.h"

namespace cpuinfer::serve {

namespace {

using json = nlohmann::json;

std::int64_t micros(Clock::duration d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); }

TensorMetadata metadata_of(const engine::TensorSpec& spec) {
  TensorMetadata m;
  m.name = spec.name;
  m.datatype = spec.dtype ? datatype_name(*spec.dtype) : "";
  if (spec.shape)
    for (const engine::Dim& d : *spec.shape) m.shape.push_back(d.is_static() ? d.value : -1);
  return m;
}

bool open_first_dimension(const engine::TensorSpec& spec) {
  return spec.shape && !spec.shape->empty() && !spec.shape->front().is_static();
}

// Rows [begin, end) of a tensor along its first dimension.
Tensor rows(const Tensor& t, std::int64_t begin, std::int64_t end) {
  Shape shape = t.shape();
  const std::size_t row_bytes = shape[0] ? t.nbytes() / static_cast<std::size_t>(shape[0]) : 0;
  shape[0] = end - begin;
  Tensor out = Tensor::uninitialized(t.dtype(), shape);
  if (out.nbytes()) std::memcpy(out.data(), static_cast<const std::byte*>(t.data()) + static_cast<std::size_t>(begin) * row_bytes, out.nbytes());
  return out;
}

// Tensors of one shape but the first dimension, joined along it.
Tensor concatenate(const std::vector<const Tensor*>& parts) {
  Shape shape = parts.front()->shape();
  shape[0] = 0;
  for (const Tensor* p : parts) shape[0] += p->shape()[0];
  Tensor out = Tensor::uninitialized(parts.front()->dtype(), shape);
  auto* at = static_cast<std::byte*>(out.data());
  for (const Tensor* p : parts) {
    if (p->nbytes()) std::memcpy(at, p->data(), p->nbytes());
    at += p->nbytes();
  }
  return out;
}

}  // namespace

// A request on its way through the queue: its inputs in the model's order (or its texts' token
// ids), its rows, what it wants back, and how to answer.
class ServedModel::Call : public QueuedRequest {
 public:
  Call(std::string key, std::optional<Clock::time_point> deadline, ReplyFn reply, ModelMetrics* metrics)
      : QueuedRequest(std::move(key), deadline), reply_(std::move(reply)), metrics_(metrics) {}
  // The batcher's: 504 past the deadline, 503 shutting down.
  void fail(int status, const std::string& message) override {
    answer(error_reply(status == 504 ? Outcome::deadline : Outcome::shutting_down, message));
  }
  void answer(Reply r) {
    if (answered_.exchange(true)) return;
    if (metrics_) metrics_->answered(r.outcome, std::chrono::duration<double>(Clock::now() - arrival()).count());
    reply_(std::move(r));
  }

  std::optional<std::string> id;
  std::vector<Tensor> inputs;                      // the model's order
  std::vector<std::vector<std::int64_t>> texts;    // text models: each text's token ids
  std::int64_t rows = 0;
  std::vector<std::size_t> outputs;                // indices of the model's outputs wanted
  std::vector<bool> binary;                        // per wanted output

 private:
  ReplyFn reply_;
  ModelMetrics* metrics_;
  std::atomic<bool> answered_{false};
};

ServedModel::ServedModel(const RepositoryModel& model, const ModelVersion& version, int instances, CoreBudget& cores,
                         std::size_t max_tensor_bytes)
    : name_(model.name), version_(version.version), config_(model.config), instances_(instances),
      max_tensor_bytes_(max_tensor_bytes), cores_(cores) {
  const engine::Signature signature = engine::read_onnx_signature(version.file);
  input_specs_ = signature.inputs;
  for (const auto& s : signature.inputs) inputs_.push_back(metadata_of(s));
  for (const auto& s : signature.outputs) outputs_.push_back(metadata_of(s));
  for (const auto& s : signature.inputs) batchable_ = batchable_ && open_first_dimension(s);
  for (const auto& s : signature.outputs) batchable_ = batchable_ && open_first_dimension(s);
  if (config_.text) {
    for (const auto& s : signature.inputs) {
      try {
        text_input_role(s.name);
      } catch (const Error& e) {
        fail("{}: the config makes it a text model, but {}", version.file.string(), e.what());
      }
    }
    tokenizer_ = std::make_unique<WordPieceTokenizer>(WordPieceTokenizer::from_file(config_.text->vocab, config_.text->lowercase));
  }
  runner_ = make_model_runner(version.file, {config_.backend, instances_, config_.threads, config_.pack_tokens});
  busy_ = std::make_unique<std::atomic<bool>[]>(static_cast<std::size_t>(instances_));
  runtime_ = runner_->runtime();
  batcher_ = std::make_unique<Batcher>(BatchPolicy{.max_batch_size = batchable_ ? static_cast<std::size_t>(config_.max_batch_size) : 1,
                                                   .max_queue_delay = std::chrono::microseconds(config_.max_queue_delay_us),
                                                   .max_queue_size = static_cast<std::size_t>(config_.max_queue_size),
                                                   .instances = static_cast<std::size_t>(instances_)});
}

ServedModel::~ServedModel() { stop(); }

std::vector<Tensor> ServedModel::warm_up_inputs() const {
  if (tokenizer_) {
    std::vector<Tensor> t;
    const std::vector<std::vector<std::int64_t>> text = {tokenizer_->encode("warm up").input_ids};
    for (const auto& s : input_specs_) t.push_back(text_input_tensor(text_input_role(s.name), text, tokenizer_->pad_id(), s.dtype.value_or(DType::i64)));
    return t;
  }
  std::vector<Tensor> t;
  for (const auto& s : input_specs_) {
    if (!s.dtype || !s.shape) fail("input '{}' declares no element type or shape: cannot warm up", s.name);
    Shape shape;
    for (const engine::Dim& d : *s.shape) shape.push_back(d.is_static() ? d.value : (shape.empty() ? 1 : 8));
    t.emplace_back(*s.dtype, shape);  // zeros
  }
  return t;
}

void ServedModel::start() {
  const std::vector<Tensor> warm = warm_up_inputs();
  auto fastest = Clock::duration::max();
  for (int i = 0; i < instances_; ++i)
    for (int k = 0; k < 2; ++k) {  // the second run is the steady one
      const auto begin = Clock::now();
      runner_->run(i, warm);
      fastest = std::min(fastest, Clock::now() - begin);
    }
  // Only where the batcher would send a lone request at once too: batching as configured stays.
  const bool no_wait = !batchable_ || config_.max_batch_size == 1 || config_.max_queue_delay_us == 0;
  run_at_once_ = no_wait && config_.threads == 1 && fastest < kRunAtOnce;
  for (int i = 0; i < instances_; ++i) threads_.emplace_back([this, i] { instance_loop(i); });
  ready_ = true;
}

void ServedModel::stop() {
  ready_ = false;
  if (batcher_) batcher_->shutdown();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

json ServedModel::metadata(const std::vector<std::string>& versions) const {
  auto tensors = [](const std::vector<TensorMetadata>& ts) {
    json a = json::array();
    for (const TensorMetadata& t : ts) a.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
    return a;
  };
  json inputs = tensors(inputs_);
  if (tokenizer_) inputs = json::array({{{"name", "text"}, {"datatype", "BYTES"}, {"shape", {-1}}}});
  return {{"name", name_}, {"versions", versions}, {"platform", "onnx"}, {"inputs", inputs}, {"outputs", tensors(outputs_)},
          {"parameters", {{"backend", config_.backend}, {"runtime", runtime_}, {"instances", instances_},
                          {"threads", config_.threads}, {"max_batch_size", batchable_ ? config_.max_batch_size : 1}}}};
}

std::function<void()> ServedModel::infer(InferRequest request, std::optional<Clock::time_point> deadline, ReplyFn reply) {
  if (!deadline && config_.default_timeout_ms > 0) deadline = Clock::now() + std::chrono::milliseconds(config_.default_timeout_ms);
  std::string key;
  auto call = std::make_shared<Call>("", deadline, std::move(reply), metrics_);
  try {
    call->id = request.id;
    if (tokenizer_) {
      if (request.inputs.size() != 1 || request.inputs[0].name != "text" || !request.inputs[0].is_bytes())
        fail("model '{}' takes one BYTES input 'text' (its texts, one per row)", name_);
      for (const std::string& text : request.inputs[0].bytes) call->texts.push_back(tokenizer_->encode(text, config_.text->max_length).input_ids);
      call->rows = static_cast<std::int64_t>(call->texts.size());
      if (call->rows == 0) fail("input 'text' holds no texts");
      key = "text";
    } else {
      for (const WireTensor& in : request.inputs)
        if (std::none_of(inputs_.begin(), inputs_.end(), [&](const TensorMetadata& m) { return m.name == in.name; }))
          fail("model '{}' has no input '{}'", name_, in.name);
      for (const TensorMetadata& m : inputs_) {
        const auto in = std::find_if(request.inputs.begin(), request.inputs.end(), [&](const WireTensor& w) { return w.name == m.name; });
        if (in == request.inputs.end()) fail("input '{}' is missing", m.name);
        if (in->datatype != m.datatype) fail("input '{}' is {}, the model takes {}", m.name, in->datatype, m.datatype);
        bool fits = in->shape.size() == m.shape.size();
        for (std::size_t d = 0; fits && d < m.shape.size(); ++d) fits = m.shape[d] < 0 || m.shape[d] == in->shape[d];
        if (!fits) fail("input '{}' has shape {}, the model takes {}", m.name, json(in->shape).dump(), json(m.shape).dump());
        const std::int64_t rows = in->shape.empty() ? 1 : in->shape[0];
        if (batchable_ && call->inputs.size() > 0 && rows != call->rows)
          fail("input '{}' has {} rows, input '{}' {}", m.name, rows, inputs_.front().name, call->rows);
        call->rows = rows;
        Shape rest(in->shape.begin() + (in->shape.empty() ? 0 : 1), in->shape.end());
        key += fmt::format("{}:{};", m.datatype, shape_string(rest));
        call->inputs.push_back(in->values);
      }
      if (batchable_ && call->rows == 0) fail("input '{}' has no rows", inputs_.front().name);
    }
    for (const RequestedOutput& o : request.outputs) {
      const auto it = std::find_if(outputs_.begin(), outputs_.end(), [&](const TensorMetadata& m) { return m.name == o.name; });
      if (it == outputs_.end()) fail("model '{}' has no output '{}'", name_, o.name);
      call->outputs.push_back(static_cast<std::size_t>(it - outputs_.begin()));
      call->binary.push_back(o.binary.value_or(request.binary_outputs));
    }
    if (request.outputs.empty())
      for (std::size_t k = 0; k < outputs_.size(); ++k) {
        call->outputs.push_back(k);
        call->binary.push_back(request.binary_outputs);
      }
  } catch (const Error& e) {
    call->answer(error_reply(Outcome::bad_request, e.what()));
    return {};
  }
  if (run_at_once(call)) return {};
  // Requests of one batch key join; a model that cannot batch gives each request a key of its own.
  call->set_batch_key(batchable_ ? key : fmt::format("{}", static_cast<const void*>(call.get())));
  const Admission a = batcher_->enqueue(call);
  switch (a) {
    case Admission::queued:
      return [this, weak = std::weak_ptr<Call>(call)] {
        if (const auto c = weak.lock()) batcher_->cancel(c.get());
      };
    case Admission::queue_full:
      call->answer(error_reply(Outcome::queue_full, fmt::format("model '{}': its queue is full ({} requests)", name_, config_.max_queue_size)));
      return {};
    case Admission::expired: call->answer(error_reply(Outcome::deadline, "the request's deadline passed before it was queued")); return {};
    case Admission::shut_down: call->answer(error_reply(Outcome::shutting_down, "the server is shutting down")); return {};
  }
  return {};
}

void ServedModel::instance_loop(int instance) {
  std::atomic<bool>& busy = busy_[static_cast<std::size_t>(instance)];
  while (auto batch = batcher_->next_batch()) {
    std::vector<std::shared_ptr<Call>> calls;
    for (auto& r : *batch) calls.push_back(std::static_pointer_cast<Call>(r));
    while (busy.exchange(true)) std::this_thread::yield();  // a request run at once holds it (briefly)
    run_batch(instance, calls, false);
    busy = false;
  }
}

void ServedModel::run_batch(int instance, const std::vector<std::shared_ptr<Call>>& calls, bool cores_held) {
  try {
    run_calls(instance, calls, cores_held);
  } catch (const std::exception& e) {  // out of memory making a response, ...: the batch is answered
    for (const auto& c : calls) c->answer(error_reply(Outcome::failure, std::string("the server failed: ") + e.what()));
  }
}

bool ServedModel::run_at_once(const std::shared_ptr<Call>& call) {
  if (!run_at_once_ || batcher_->queued() > 0 || (call->deadline() && *call->deadline() <= Clock::now())) return false;
  for (int i = 0; i < instances_; ++i) {
    std::atomic<bool>& busy = busy_[static_cast<std::size_t>(i)];
    if (busy.exchange(true)) continue;
    const bool cores = cores_.try_acquire(config_.threads);
    if (cores) run_batch(i, {call}, true);
    busy = false;
    return cores;
  }
  return false;
}

std::vector<Tensor> ServedModel::batch_inputs(const std::vector<std::shared_ptr<Call>>& calls) const {
  std::vector<Tensor> inputs;
  if (tokenizer_) {
    std::vector<std::vector<std::int64_t>> texts;
    for (const auto& c : calls) texts.insert(texts.end(), c->texts.begin(), c->texts.end());
    for (const auto& s : input_specs_)
      inputs.push_back(text_input_tensor(text_input_role(s.name), texts, tokenizer_->pad_id(), s.dtype.value_or(DType::i64)));
    return inputs;
  }
  if (calls.size() == 1) return calls.front()->inputs;
  for (std::size_t k = 0; k < input_specs_.size(); ++k) {
    std::vector<const Tensor*> parts;
    for (const auto& c : calls) parts.push_back(&c->inputs[k]);
    inputs.push_back(concatenate(parts));
  }
  return inputs;
}

void ServedModel::run_calls(int instance, const std::vector<std::shared_ptr<Call>>& calls, bool cores_held) {
  const auto start = Clock::now();
  std::vector<Tensor> outputs;
  try {
    if (!cores_held) cores_.acquire(config_.threads);
    try {
      outputs = runner_->run(instance, batch_inputs(calls));
    } catch (...) {
      cores_.release(config_.threads);
      throw;
    }
    cores_.release(config_.threads);
  } catch (const std::exception& e) {
    if (calls.size() > 1) {  // find the culprit: each on its own
      for (const auto& c : calls) run_calls(instance, {c}, false);
      return;
    }
    // The engine refused this request's values (an id beyond the vocabulary, ...): the client's to fix.
    calls.front()->answer(error_reply(dynamic_cast<const Error*>(&e) ? Outcome::bad_request : Outcome::failure, e.what()));
    return;
  }
  // Each request takes its rows of every output: an output whose first dimension is not the
  // batch's rows (a model that reduces over the batch, ...) cannot be split, so each runs alone.
  if (calls.size() > 1) {
    std::int64_t total = 0;
    for (const auto& c : calls) total += c->rows;
    if (std::any_of(outputs.begin(), outputs.end(), [&](const Tensor& t) { return t.shape().empty() || t.shape()[0] != total; })) {
      for (const auto& c : calls) run_calls(instance, {c}, false);
      return;
    }
  }
  const auto compute = Clock::now() - start;
  if (metrics_) {
    std::vector<double> queued;
    for (const auto& c : calls) queued.push_back(std::chrono::duration<double>(start - c->arrival()).count());
    metrics_->ran(std::chrono::duration<double>(compute).count(), calls.size(), queued);
  }
  std::int64_t row = 0;
  for (const auto& c : calls) {
    InferResponse response;
    response.model_name = name_;
    response.model_version = version_;
    response.id = c->id;
    response.parameters = {{"queue_us", micros(start - c->arrival())}, {"compute_us", micros(compute)},
                           {"batch_size", static_cast<std::int64_t>(calls.size())}};
    for (std::size_t k = 0; k < c->outputs.size(); ++k) {
      const std::size_t o = c->outputs[k];
      WireTensor t;
      t.name = outputs_[o].name;
      const Tensor& all = outputs[o];
      t.values = calls.size() == 1 ? all : rows(all, row, row + c->rows);
      t.datatype = datatype_name(t.values.dtype());
      t.shape = t.values.shape();
      response.outputs.push_back(std::move(t));
    }
    response.binary = c->binary;
    c->answer({Outcome::success, {}, std::move(response)});
    row += c->rows;
  }
}

}  // namespace cpuinfer::serve
