// A small BERT encoder built node by node as torch.onnx.export writes BertModel's layers, for the
// engine's tests of attention fusion, token packing, bfloat16 and int8 products.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/onnx_builder.h"

namespace cpuinfer::test {

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int kInt64 = onnx::TensorProto::INT64;

struct Config {
  Config(std::int64_t hidden_, std::int64_t heads_, std::int64_t layers_, std::int64_t opset_)
      : hidden(hidden_), heads(heads_), layers(layers_), opset(opset_) {}
  std::int64_t hidden, heads, layers, opset;
  float mask_value = -3.4028234663852886e+38f;  // torch.finfo(float32).min, as transformers >= 4.21
  bool hidden_states_output = false;            // also output the last hidden states (no packing then)
  std::string extra_output;                     // also output this value of the graph
  bool int8 = false;                            // Linear layers as dynamic int8 products (DynamicQuantizeLinear, MatMulInteger)
  int int8_weight_limit = 127;                  // their weights within [-limit, limit]
  std::string label() const { return fmt::format("hidden {} heads {} layers {} opset {}", hidden, heads, layers, opset); }
};

// Builds the encoder node by node, as torch.onnx.export writes BertModel's layers.
class TinyBert {
 public:
  explicit TinyBert(const Config& c) : c_(c), b_(c.opset), random_(7) {
    b_.input("hidden_states", kFloat, {"batch", "sequence", std::to_string(c.hidden)});
    b_.input("attention_mask", kInt64, {"batch", "sequence"});
    mask();
    std::string x = "hidden_states";
    for (std::int64_t l = 0; l < c.layers; ++l) x = layer(x, fmt::format("l{}", l));
    b_.int_initializer("zero", {}, {0});
    auto& gather = b_.node("Gather", {x, "zero"}, {"first"});
    OnnxBuilder::attribute(gather, "axis", std::int64_t{1});
    b_.node("Tanh", {"first"}, {"pooled"});
    b_.output("pooled");
    if (c.hidden_states_output) b_.output(x);
    if (!c.extra_output.empty()) b_.output(c.extra_output);
  }
  std::string bytes() const { return b_.bytes(); }

 private:
  std::string constant(const std::string& name, const std::vector<std::int64_t>& dims, float scale, float offset = 0.0f) {
    std::int64_t n = 1;
    for (auto d : dims) n *= d;
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = offset + scale * normal(random_);
    b_.initializer(name, dims, v);
    return name;
  }
  std::string scalar(const std::string& name, float value) {
    b_.initializer(name, {}, {value});
    return name;
  }
  std::string ints(const std::string& name, const std::vector<std::int64_t>& values) {
    b_.int_initializer(name, {static_cast<std::int64_t>(values.size())}, values);
    return name;
  }
  std::string unsqueeze(const std::string& in, std::int64_t axis, const std::string& out) {
    if (c_.opset >= 13) {
      b_.node("Unsqueeze", {in, ints(out + "_axes", {axis})}, {out});
    } else {
      auto& n = b_.node("Unsqueeze", {in}, {out});
      OnnxBuilder::attribute(n, "axes", std::vector<std::int64_t>{axis});
    }
    return out;
  }
  // The value of dimension `axis` of `of` as a 1-element vector: Shape, Gather, Unsqueeze.
  std::string dim(const std::string& of, std::int64_t axis, const std::string& out) {
    b_.node("Shape", {of}, {out + "_shape"});
    b_.int_initializer(out + "_index", {}, {axis});
    auto& g = b_.node("Gather", {out + "_shape", out + "_index"}, {out + "_scalar"});
    OnnxBuilder::attribute(g, "axis", std::int64_t{0});
    return unsqueeze(out + "_scalar", 0, out);
  }

  // (1 - float(mask[:, None, None, :])) * c
  void mask() {
    unsqueeze("attention_mask", 1, "mask1");
    unsqueeze("mask1", 2, "mask2");
    auto& cast = b_.node("Cast", {"mask2"}, {"maskf"});
    OnnxBuilder::attribute(cast, "to", std::int64_t{kFloat});
    b_.node("Sub", {scalar("one", 1.0f), "maskf"}, {"inverted"});
    b_.node("Mul", {"inverted", scalar("mask_value", c_.mask_value)}, {"additive_mask"});
  }

  std::string linear(const std::string& x, const std::string& p, std::int64_t in, std::int64_t out) {
    const std::string w = constant(p + "_w", {in, out}, 0.3f / std::sqrt(static_cast<float>(in)) * 2.0f);
    if (c_.int8) dynamic_int8_product(x, w, p + "_mm", in, out);
    else b_.node("MatMul", {x, w}, {p + "_mm"});
    b_.node("Add", {constant(p + "_b", {out}, 0.1f), p + "_mm"}, {p});
    return p;
  }

  // x times the float initializer w [in, out] as ONNX Runtime's quantize_dynamic writes it: w
  // symmetric int8 per column, x quantized at run time.
  void dynamic_int8_product(const std::string& x, const std::string& w, const std::string& out, std::int64_t in, std::int64_t cols) {
    const auto& values = b_.model().graph().initializer();
    const auto found = std::find_if(values.begin(), values.end(), [&](const onnx::TensorProto& t) { return t.name() == w; });
    std::vector<float> scales(static_cast<std::size_t>(cols), 0.0f);
    for (std::int64_t r = 0; r < in; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        scales[static_cast<std::size_t>(c)] = std::max(scales[static_cast<std::size_t>(c)], std::fabs(found->float_data(static_cast<int>(r * cols + c))) / static_cast<float>(c_.int8_weight_limit));
    std::string q(static_cast<std::size_t>(in * cols), '\0');
    for (std::int64_t r = 0; r < in; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        q[static_cast<std::size_t>(r * cols + c)] = static_cast<char>(static_cast<std::int8_t>(
            std::nearbyint(found->float_data(static_cast<int>(r * cols + c)) / scales[static_cast<std::size_t>(c)])));
    b_.raw_initializer(w + "_q", {in, cols}, onnx::TensorProto::INT8, q);
    b_.raw_initializer(w + "_zero", {cols}, onnx::TensorProto::INT8, std::string(static_cast<std::size_t>(cols), '\0'));
    b_.initializer(w + "_scale", {cols}, scales);
    b_.node("DynamicQuantizeLinear", {x}, {out + "_xq", out + "_xs", out + "_xz"});
    b_.node("MatMulInteger", {out + "_xq", w + "_q", out + "_xz", w + "_zero"}, {out + "_int"});
    auto& cast = b_.node("Cast", {out + "_int"}, {out + "_float"});
    OnnxBuilder::attribute(cast, "to", std::int64_t{kFloat});
    b_.node("Mul", {out + "_xs", w + "_scale"}, {out + "_scales"});
    b_.node("Mul", {out + "_float", out + "_scales"}, {out});
  }

  // Reshape(projection, [B, L, heads, size]) then Transpose(perm).
  std::string split_heads(const std::string& projection, const std::vector<std::int64_t>& perm) {
    const std::int64_t size = c_.hidden / c_.heads;
    auto& concat = b_.node("Concat", {dim(projection, 0, projection + "_dim0"), dim(projection, 1, projection + "_dim1"),
                                      ints(projection + "_heads_count", {c_.heads}), ints(projection + "_head_size", {size})},
                           {projection + "_shape4"});
    OnnxBuilder::attribute(concat, "axis", std::int64_t{0});
    b_.node("Reshape", {projection, projection + "_shape4"}, {projection + "_4d"});
    auto& t = b_.node("Transpose", {projection + "_4d"}, {projection + "_heads"});
    OnnxBuilder::attribute(t, "perm", perm);
    return projection + "_heads";
  }

  std::string layer_norm(const std::string& x, const std::string& p) {
    const std::string gamma = constant(p + "_gamma", {c_.hidden}, 0.1f, 1.0f), beta = constant(p + "_beta", {c_.hidden}, 0.1f);
    if (c_.opset >= 17) {
      auto& n = b_.node("LayerNormalization", {x, gamma, beta}, {p});
      OnnxBuilder::attribute(n, "axis", std::int64_t{-1});
      return p;
    }
    // torch's decomposition before opset 17.
    auto& mean = b_.node("ReduceMean", {x}, {p + "_mean"});
    OnnxBuilder::attribute(mean, "axes", std::vector<std::int64_t>{-1});
    b_.node("Sub", {x, p + "_mean"}, {p + "_centered"});
    b_.node("Pow", {p + "_centered", scalar(p + "_two", 2.0f)}, {p + "_squares"});
    auto& var = b_.node("ReduceMean", {p + "_squares"}, {p + "_var"});
    OnnxBuilder::attribute(var, "axes", std::vector<std::int64_t>{-1});
    b_.node("Add", {p + "_var", scalar(p + "_eps", 1e-12f)}, {p + "_var_eps"});
    b_.node("Sqrt", {p + "_var_eps"}, {p + "_std"});
    b_.node("Div", {p + "_centered", p + "_std"}, {p + "_normed"});
    b_.node("Mul", {p + "_normed", gamma}, {p + "_scaled"});
    b_.node("Add", {p + "_scaled", beta}, {p});
    return p;
  }

  std::string layer(const std::string& x, const std::string& p) {
    const std::int64_t h = c_.hidden;
    const std::string q = split_heads(linear(x, p + "_q", h, h), {0, 2, 1, 3});
    const std::string k = split_heads(linear(x, p + "_k", h, h), {0, 2, 3, 1});
    const std::string v = split_heads(linear(x, p + "_v", h, h), {0, 2, 1, 3});
    b_.node("MatMul", {q, k}, {p + "_scores"});
    b_.node("Div", {p + "_scores", scalar(p + "_sqrt_size", std::sqrt(static_cast<float>(h / c_.heads)))}, {p + "_scaled"});
    b_.node("Add", {p + "_scaled", "additive_mask"}, {p + "_masked"});
    auto& softmax = b_.node("Softmax", {p + "_masked"}, {p + "_probs"});
    OnnxBuilder::attribute(softmax, "axis", std::int64_t{-1});
    b_.node("MatMul", {p + "_probs", v}, {p + "_context"});
    auto& merge = b_.node("Transpose", {p + "_context"}, {p + "_merged"});
    OnnxBuilder::attribute(merge, "perm", std::vector<std::int64_t>{0, 2, 1, 3});
    auto& concat = b_.node("Concat", {dim(p + "_merged", 0, p + "_mdim0"), dim(p + "_merged", 1, p + "_mdim1"), ints(p + "_minus1", {-1})},
                           {p + "_shape3"});
    OnnxBuilder::attribute(concat, "axis", std::int64_t{0});
    b_.node("Reshape", {p + "_merged", p + "_shape3"}, {p + "_attended"});
    b_.node("Add", {linear(p + "_attended", p + "_o", h, h), x}, {p + "_residual1"});
    const std::string ln1 = layer_norm(p + "_residual1", p + "_ln1");
    const std::string up = linear(ln1, p + "_up", h, 2 * h);
    b_.node("Div", {up, scalar(p + "_sqrt2", std::sqrt(2.0f))}, {p + "_gd"});
    b_.node("Erf", {p + "_gd"}, {p + "_ge"});
    b_.node("Add", {p + "_ge", scalar(p + "_g1", 1.0f)}, {p + "_ga"});
    b_.node("Mul", {up, p + "_ga"}, {p + "_gm"});
    b_.node("Mul", {p + "_gm", scalar(p + "_ghalf", 0.5f)}, {p + "_gelu"});
    b_.node("Add", {linear(p + "_gelu", p + "_down", 2 * h, h), ln1}, {p + "_residual2"});
    return layer_norm(p + "_residual2", p + "_ln2");
  }

  Config c_;
  OnnxBuilder b_;
  std::mt19937 random_;
};

inline Tensor hidden_states(std::int64_t batch, std::int64_t length, std::int64_t hidden, unsigned seed) {
  Tensor t(DType::f32, {batch, length, hidden});
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : t.values<float>()) x = normal(random);
  return t;
}

// 1 for the first lengths[b] tokens of row b, 0 after (right padding).
inline Tensor right_padded(const std::vector<std::int64_t>& lengths, std::int64_t length) {
  Tensor m(DType::i64, {static_cast<std::int64_t>(lengths.size()), length});
  auto v = m.values<std::int64_t>();
  for (std::size_t b = 0; b < lengths.size(); ++b)
    for (std::int64_t t = 0; t < length; ++t) v[b * static_cast<std::size_t>(length) + static_cast<std::size_t>(t)] = t < lengths[b];
  return m;
}

}  // namespace cpuinfer::test
