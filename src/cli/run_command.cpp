// `cpuinfer run`: the engine on the user's own files, through the public API (include/cpuinfer/):
// an image (torchvision's ImageNet preprocessing), a text (BERT's WordPiece) or .npy inputs in,
// the top classes printed or every output saved as .npy.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <cpuinfer/cpuinfer.h>

#include "api/api_types.h"
#include "cli/commands.h"
#include "core/error.h"
#include "data/image_decode.h"
#include "data/image_preprocess.h"
#include "data/npy_file.h"
#include "data/text_inputs.h"
#include "data/wordpiece_tokenizer.h"

namespace fs = std::filesystem;

namespace cpuinfer {

namespace {

struct RunArgs {
  std::string model, image, text, vocab, labels, out, precision = "f32";
  std::vector<std::string> inputs;
  std::size_t top = 5, max_length = 512;
  bool cased = false;
  int threads = 0;
};

// The image as the model's first input: [1, 3, S, S], S its static size (224 when open).
Tensor image_input(const RunArgs& a, const TensorInfo& input) {
  if (input.shape_known && (input.shape.size() != 4 || (input.shape[1] >= 0 && input.shape[1] != 3)))
    fail("--image: input '{}' of shape [{}] is not an NCHW image batch", input.name, fmt::join(input.shape, ", "));
  ImagePreprocess p;
  if (input.shape_known && input.shape[2] > 0) {
    p.crop = static_cast<int>(input.shape[2]);
    p.resize = p.crop * 232 / 224;
  }
  Tensor x(DType::f32, {1, 3, p.crop, p.crop});
  preprocess_image(decode_image(a.image), p, x.values<float>());
  return x;
}

// --vocab, else a vocab.txt or tokenizer.json beside the model (a Hugging Face model's folder).
fs::path vocabulary(const RunArgs& a) {
  if (!a.vocab.empty()) return a.vocab;
  for (const char* name : {"vocab.txt", "tokenizer.json"})
    if (const fs::path f = fs::path(a.model).parent_path() / name; fs::exists(f)) return f;
  fail("--text: give --vocab (no vocab.txt or tokenizer.json beside {})", a.model);
}

// The text as a BERT-style model's inputs, one sequence (data/text_inputs.h).
std::vector<Tensor> text_inputs(const RunArgs& a, const std::vector<TensorInfo>& infos) {
  const WordPieceTokenizer tokenizer = WordPieceTokenizer::from_file(vocabulary(a), !a.cased);
  const Encoding e = tokenizer.encode(a.text, a.max_length);
  std::vector<Tensor> tensors;
  for (const TensorInfo& info : infos) {
    TextInput role{};
    try {
      role = text_input_role(info.name);
    } catch (const Error& err) {
      fail("--text: {} (give --input instead)", err.what());
    }
    if (info.type_known && info.type != ElementType::int64 && info.type != ElementType::int32)
      fail("--text: input '{}' takes {}, not token ids", info.name, element_type_name(info.type));
    tensors.push_back(text_input_tensor(role, {e.input_ids}, tokenizer.pad_id(), info.type == ElementType::int32 ? DType::i32 : DType::i64));
  }
  if (e.truncated) fmt::print(stderr, "note: --text truncated to --max-length {} tokens\n", a.max_length);
  return tensors;
}

std::vector<std::string> read_labels(const std::string& file) {
  std::ifstream in(file);
  if (!in) fail("--labels {}: cannot read it", file);
  std::vector<std::string> labels;
  for (std::string line; std::getline(in, line);) labels.push_back(line);
  return labels;
}

int run_model(const RunArgs& a) {
  Options options;
  options.threads = a.threads;
  if (a.precision == "bf16") options.precision = Precision::bf16;
  else if (a.precision == "int8") options.precision = Precision::int8;
  else if (a.precision != "f32") fail("--precision {}: f32, bf16 or int8", a.precision);
  if (!a.image.empty() + !a.text.empty() + !a.inputs.empty() != 1) fail("give one of --image, --text or --input name=file.npy");
  const Model model(a.model, options);
  std::vector<Tensor> held;  // the inputs' memory while the run reads it
  std::vector<std::string> names;
  if (!a.image.empty()) {
    held.push_back(image_input(a, model.inputs().at(0)));
    names.push_back(model.inputs()[0].name);
  }
  if (!a.text.empty()) {
    held = text_inputs(a, model.inputs());
    for (const TensorInfo& info : model.inputs()) names.push_back(info.name);
  }
  for (const std::string& spec : a.inputs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) fail("--input {}: expected name=file.npy", spec);
    held.push_back(read_npy(spec.substr(eq + 1)));
    names.push_back(spec.substr(0, eq));
  }
  std::vector<std::pair<std::string, TensorView>> feeds;
  for (std::size_t k = 0; k < held.size(); ++k)
    feeds.emplace_back(names[k], TensorView{api::to_element_type(held[k].dtype()), held[k].shape(), held[k].data()});
  Session session(model);
  const std::vector<Output> outputs = session.run(feeds);
  if (!a.out.empty()) {
    fs::create_directories(a.out);
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      const Output& o = outputs[k];
      Tensor t(api::to_dtype(o.type()), o.shape());
      std::copy_n(static_cast<const std::byte*>(o.data()), t.nbytes(), static_cast<std::byte*>(t.data()));
      const fs::path file = fs::path(a.out) / (model.outputs()[k].name + ".npy");
      write_npy(file, t);
      fmt::print("{}: {} {} -> {}\n", model.outputs()[k].name, element_type_name(o.type()), fmt::join(o.shape(), "x"), file.string());
    }
    return 0;
  }
  const std::vector<std::string> labels = a.labels.empty() ? std::vector<std::string>{} : read_labels(a.labels);
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const Output& o = outputs[k];
    fmt::print("{}: {} {}\n", model.outputs()[k].name, element_type_name(o.type()), fmt::join(o.shape(), "x"));
    if (o.type() != ElementType::float32 || o.element_count() == 0) continue;
    const auto scores = o.values<float>();
    const std::size_t classes = static_cast<std::size_t>(o.shape().empty() ? 1 : o.shape().back());
    std::vector<std::size_t> order(classes);
    std::iota(order.begin(), order.end(), 0);
    const std::size_t shown = std::min(a.top, classes);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shown), order.end(),
                      [&](std::size_t x, std::size_t y) { return scores[x] > scores[y]; });
    for (std::size_t r = 0; r < shown; ++r)
      fmt::print("  {:>6} {:>10.4f}  {}\n", order[r], scores[order[r]], order[r] < labels.size() ? labels[order[r]] : "");
  }
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run", "Run an ONNX model on your own image, text or .npy files (the native engine)");
  cmd->add_option("--model", args->model, "ONNX model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--image", args->image, "An image (JPEG or PNG) for the model's first input, with torchvision's "
                  "ImageNet preprocessing (resize, center crop, normalise)")->check(CLI::ExistingFile);
  cmd->add_option("--text", args->text, "A text for a BERT-style model: WordPiece token ids, an attention mask of ones "
                  "and token types of zeros, each input recognised by its name");
  cmd->add_option("--vocab", args->vocab, "The --text tokenizer's vocabulary: vocab.txt or tokenizer.json (default: "
                  "one of them beside the model)")->check(CLI::ExistingFile);
  cmd->add_flag("--cased", args->cased, "Keep the --text's case and accents (a cased vocabulary)");
  cmd->add_option("--max-length", args->max_length, "Tokens of --text at most, [CLS] and [SEP] included")->capture_default_str()
      ->check(CLI::Range(std::size_t{2}, std::size_t{1} << 20));
  cmd->add_option("--input", args->inputs, "An input's data, name=file.npy (repeatable)");
  cmd->add_option("--top", args->top, "Classes to print per output (the last dimension's largest scores)")->capture_default_str();
  cmd->add_option("--labels", args->labels, "Class names, one per line, for the printed classes")->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "Save every output as DIR/<output name>.npy instead of printing classes");
  cmd->add_option("--threads", args->threads, "Intra-op threads; 0 = all usable cores")->capture_default_str();
  cmd->add_option("--precision", args->precision, "f32, bf16 (needs AVX512_BF16) or int8 (a quantized model)")->capture_default_str();
  cmd->callback([args, &exit_code] { exit_code = run_model(*args); });
}

}  // namespace cpuinfer
