// Attention fusion: the pattern of attention_fusion.h matched from every Softmax.
#include "engine/passes/attention_fusion.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "engine/passes/dynamic_int8.h"
#include "engine/passes/graph_index.h"

namespace cpuinfer::engine {

namespace {

using Perm = std::vector<std::int64_t>;

struct Projection {
  ValueId x = kNoValue, weights = kNoValue, bias = kNoValue;  // bias: kNoValue when absent
  std::vector<float> int8_scales;  // an int8 product's weight scales (passes/dynamic_int8.h); empty: float
};

struct Heads {
  Projection projection;
  std::int64_t heads = 0, size = 0;
};

class AttentionMatcher {
 public:
  explicit AttentionMatcher(Graph& g) : g_(g), index_(g), removed_(g.nodes.size(), false) {}

  std::size_t run() {
    std::size_t fused = 0;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      if (!removed_[i] && is_default(g_.nodes[i], "Softmax")) fused += try_fuse(i);
    if (!fused) return 0;
    std::vector<Node> kept;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      if (!removed_[i]) kept.push_back(std::move(g_.nodes[i]));
    g_.nodes = std::move(kept);
    release_unread_constants(g_);  // the Q, K and V weights now live in the fused nodes' copies
    return fused;
  }

 private:
  static bool is_default(const Node& n, const char* op) { return n.domain.empty() && n.op_type == op; }

  // The node producing v, when it has type op and is not already fused elsewhere.
  std::optional<std::size_t> producer(ValueId v, const char* op) const {
    const auto p = index_.producer(v);
    if (!p || removed_[*p] || !is_default(g_.nodes[*p], op)) return std::nullopt;
    return p;
  }
  // The only reader of v, when it has type op.
  std::optional<std::size_t> only_reader(ValueId v, const char* op) const {
    const auto& r = index_.readers(v);
    if (r.size() != 1 || index_.is_output(v) || !is_default(g_.nodes[r[0]], op)) return std::nullopt;
    return r[0];
  }
  // The one reader of v of type op (others are checked with the pattern's closure).
  std::optional<std::size_t> reader(ValueId v, const char* op) const {
    std::optional<std::size_t> found;
    for (std::size_t r : index_.readers(v))
      if (is_default(g_.nodes[r], op)) {
        if (found) return std::nullopt;
        found = r;
      }
    return found;
  }
  const Tensor* float_constant(ValueId v, std::size_t rank) const {
    const Tensor* t = index_.constant(v);
    return t && t->dtype() == DType::f32 && t->rank() == rank ? t : nullptr;
  }

  // MatMul(x, W) (+ b), W a constant matrix, b a constant vector of W's columns.
  std::optional<Projection> projection(ValueId v, std::vector<std::size_t>& nodes) const {
    Projection p;
    if (const auto add = producer(v, "Add")) {
      const Node& n = g_.nodes[*add];
      if (n.inputs.size() != 2) return std::nullopt;
      const int first = producer(n.inputs[0], "MatMul") ? 0 : 1;
      p.bias = n.inputs[static_cast<std::size_t>(1 - first)];
      v = n.inputs[static_cast<std::size_t>(first)];
      if (!float_constant(p.bias, 1)) return std::nullopt;
      nodes.push_back(*add);
    }
    const auto mm = producer(v, "MatMul");
    if (!mm) return std::nullopt;
    const Node& n = g_.nodes[*mm];
    const Tensor* w = float_constant(n.inputs[1], 2);
    if (!w || (p.bias != kNoValue && index_.constant(p.bias)->dim(0) != w->dim(1))) return std::nullopt;
    p.x = n.inputs[0];
    p.weights = n.inputs[1];
    if (n.has(kInt8ScalesAttribute)) p.int8_scales = n.get_floats(kInt8ScalesAttribute);
    nodes.push_back(*mm);
    return p;
  }

  // Entries 0 and 1 of a Reshape target: B and L of the values in `sources` (or 0: copied; or -1
  // once: inferred).
  static bool leading_dims(const std::vector<ShapeEntry>& e, const std::set<ValueId>& sources, bool allowzero) {
    int inferred = 0;
    for (std::int64_t p = 0; p < 2; ++p) {
      const ShapeEntry& entry = e[static_cast<std::size_t>(p)];
      if (entry.value) {
        if (*entry.value == -1) ++inferred;
        else if (*entry.value != 0 || allowzero) return false;
      } else if (!sources.count(entry.source) || entry.axis != p) {
        return false;
      }
    }
    return inferred < 2;
  }

  // Transpose(Reshape(projection, [B, L, heads, size]), perm).
  std::optional<Heads> heads(ValueId v, const Perm& perm, std::vector<std::size_t>& nodes) const {
    const auto t = producer(v, "Transpose");
    if (!t || g_.nodes[*t].get_ints("perm") != perm) return std::nullopt;
    const auto r = producer(g_.nodes[*t].inputs[0], "Reshape");
    if (!r) return std::nullopt;
    const Node& reshape = g_.nodes[*r];
    const ValueId projected = reshape.inputs[0];
    Heads h;
    std::vector<std::size_t> found{*t, *r};
    const auto p = projection(projected, found);
    const auto e = reshape.inputs.size() == 2 ? shape_entries(index_, reshape.inputs[1]) : std::nullopt;
    if (!p || !e || e->size() != 4 || !(*e)[2].value || !(*e)[3].value) return std::nullopt;
    h.projection = *p;
    h.heads = *(*e)[2].value;
    h.size = *(*e)[3].value;
    const ValueId product = g_.nodes[found.back()].outputs[0];  // the MatMul's
    if (h.heads < 1 || h.size < 1 || !leading_dims(*e, {p->x, projected, product}, reshape.get_int("allowzero", 0) != 0))
      return std::nullopt;
    nodes.insert(nodes.end(), found.begin(), found.end());
    return h;
  }

  // scores (/ c or * c): the product Q K^T and its scale.
  std::optional<std::size_t> scaled_scores(ValueId v, float& scale, std::vector<std::size_t>& nodes) const {
    scale = 1.0f;
    const auto div = producer(v, "Div");
    const auto mul = producer(v, "Mul");
    if (div || mul) {
      const Node& n = g_.nodes[div ? *div : *mul];
      if (n.inputs.size() != 2) return std::nullopt;
      const int which = !div && index_.scalar(n.inputs[0]) ? 0 : 1;  // the constant's position
      const auto c = index_.scalar(n.inputs[static_cast<std::size_t>(which)]);
      if (!c || !std::isfinite(*c) || (div && (which != 1 || *c == 0.0f))) return std::nullopt;
      scale = div ? 1.0f / *c : *c;
      v = n.inputs[static_cast<std::size_t>(1 - which)];
      nodes.push_back(div ? *div : *mul);
    }
    const auto mm = producer(v, "MatMul");
    if (!mm) return std::nullopt;
    nodes.push_back(*mm);
    return mm;
  }

  std::size_t try_fuse(std::size_t softmax) {
    const Node& sm = g_.nodes[softmax];
    if (!sm.has("axis") && g_.opset < 13) return 0;  // the default coerces at axis 1
    if (const std::int64_t axis = sm.get_int("axis", -1); axis != -1 && axis != 3) return 0;
    std::vector<std::size_t> core{softmax};
    float scale = 1.0f;
    ValueId mask = kNoValue;
    std::optional<std::size_t> qk;
    if (const auto add = producer(sm.inputs[0], "Add"); add && g_.nodes[*add].inputs.size() == 2) {
      for (std::size_t side = 0; side < 2 && !qk; ++side) {
        std::vector<std::size_t> nodes{*add};
        qk = scaled_scores(g_.nodes[*add].inputs[side], scale, nodes);
        if (qk) {
          mask = g_.nodes[*add].inputs[1 - side];
          core.insert(core.end(), nodes.begin(), nodes.end());
        }
      }
    } else {
      qk = scaled_scores(sm.inputs[0], scale, core);
    }
    if (!qk) return 0;
    const auto q = heads(g_.nodes[*qk].inputs[0], {0, 2, 1, 3}, core);
    const auto k = heads(g_.nodes[*qk].inputs[1], {0, 2, 3, 1}, core);
    const auto pv = only_reader(sm.outputs[0], "MatMul");
    if (!q || !k || !pv || g_.nodes[*pv].inputs[0] != sm.outputs[0]) return 0;
    core.push_back(*pv);
    const auto v = heads(g_.nodes[*pv].inputs[1], {0, 2, 1, 3}, core);
    const auto merge = only_reader(g_.nodes[*pv].outputs[0], "Transpose");
    if (!v || !merge || g_.nodes[*merge].get_ints("perm") != Perm{0, 2, 1, 3}) return 0;
    const auto out = reader(g_.nodes[*merge].outputs[0], "Reshape");  // Shape may read it too
    if (!out) return 0;
    core.push_back(*merge);
    core.push_back(*out);
    const ValueId x = q->projection.x;
    const std::int64_t width = q->heads * q->size;
    for (const Heads* h : {&*q, &*k, &*v})
      if (h->projection.x != x || h->heads != q->heads || h->size != q->size ||
          h->projection.int8_scales.empty() != q->projection.int8_scales.empty() ||
          index_.constant(h->projection.weights)->dim(1) != width ||
          index_.constant(h->projection.weights)->dim(0) != index_.constant(q->projection.weights)->dim(0))
        return 0;
    const Node& reshape = g_.nodes[*out];
    const auto e = reshape.inputs.size() == 2 ? shape_entries(index_, reshape.inputs[1]) : std::nullopt;
    if (!e || e->size() != 3 || !(*e)[2].value || (*(*e)[2].value != -1 && *(*e)[2].value != width) ||
        !leading_dims(*e, {x, g_.nodes[*merge].outputs[0]}, reshape.get_int("allowzero", 0) != 0))
      return 0;
    std::set<std::size_t> all(core.begin(), core.end());
    if (!close_over_shape_arithmetic(all, {x, mask}, reshape.outputs[0])) return 0;

    Node attention;
    attention.name = unique_name(sm.name);
    attention.domain = kEngineDomain;
    attention.op_type = kAttentionOp;
    attention.inputs = {x, concat_weights({&*q, &*k, &*v}), concat_bias({&*q, &*k, &*v}, width), mask};
    if (mask == kNoValue) attention.inputs.pop_back();
    attention.outputs = {reshape.outputs[0]};
    attention.attributes["num_heads"] = q->heads;
    attention.attributes["scale"] = scale;
    if (!q->projection.int8_scales.empty()) {  // int8 products (passes/dynamic_int8.h): their scales side by side
      std::vector<float> scales;
      for (const Heads* h : {&*q, &*k, &*v}) scales.insert(scales.end(), h->projection.int8_scales.begin(), h->projection.int8_scales.end());
      attention.attributes[kInt8ScalesAttribute] = std::move(scales);
    }
    std::sort(core.begin(), core.end());
    for (std::size_t n : core) attention.computes.insert(attention.computes.end(), g_.nodes[n].computes.begin(), g_.nodes[n].computes.end());
    for (std::size_t n : all) removed_[n] = true;
    removed_[*out] = false;
    g_.nodes[*out] = std::move(attention);
    return 1;
  }

  // Adds to `nodes` the ones computing only what `nodes` read (the Reshape targets' Shape
  // arithmetic), except producers of `kept`; then checks that nothing outside reads a value the
  // nodes compute, but `result`.
  bool close_over_shape_arithmetic(std::set<std::size_t>& nodes, const std::set<ValueId>& kept, ValueId result) const {
    for (bool grew = true; grew;) {
      grew = false;
      for (std::size_t n : std::vector<std::size_t>(nodes.begin(), nodes.end()))
        for (ValueId in : g_.nodes[n].inputs) {
          const auto p = index_.producer(in);
          if (!p || nodes.count(*p) || removed_[*p] || kept.count(in)) continue;
          const bool only_ours = std::ranges::all_of(g_.nodes[*p].outputs, [&](ValueId out) {
            return out == kNoValue || (!index_.is_output(out) && !kept.count(out) &&
                                       std::ranges::all_of(index_.readers(out), [&](std::size_t r) { return nodes.count(r) != 0; }));
          });
          if (only_ours) grew = nodes.insert(*p).second || grew;
        }
    }
    for (std::size_t n : nodes)
      for (ValueId out : g_.nodes[n].outputs) {
        if (out == kNoValue || out == result) continue;
        if (index_.is_output(out)) return false;
        for (std::size_t r : index_.readers(out))
          if (!nodes.count(r)) return false;
      }
    return true;
  }

  // [Wq Wk Wv]: [hidden, 3 x width].
  ValueId concat_weights(const std::vector<const Heads*>& parts) {
    const Tensor& first = *index_.constant(parts[0]->projection.weights);
    const std::int64_t rows = first.dim(0), width = first.dim(1);
    Tensor w(DType::f32, {rows, 3 * width});
    float* dst = w.values<float>().data();
    for (std::size_t p = 0; p < 3; ++p) {
      const float* src = index_.constant(parts[p]->projection.weights)->values<float>().data();
      for (std::int64_t r = 0; r < rows; ++r)
        std::copy_n(src + r * width, width, dst + r * 3 * width + static_cast<std::int64_t>(p) * width);
    }
    return add_constant(g_.values[static_cast<std::size_t>(parts[0]->projection.weights)].name + "/qkv", std::move(w));
  }

  ValueId concat_bias(const std::vector<const Heads*>& parts, std::int64_t width) {
    Tensor b(DType::f32, {3 * width});  // zeros where a projection has none
    float* dst = b.values<float>().data();
    for (std::size_t p = 0; p < 3; ++p)
      if (const ValueId bias = parts[p]->projection.bias; bias != kNoValue)
        std::ranges::copy(index_.constant(bias)->values<float>(), dst + static_cast<std::int64_t>(p) * width);
    return add_constant(g_.values[static_cast<std::size_t>(parts[0]->projection.weights)].name + "/qkv_bias", std::move(b));
  }

  ValueId add_constant(std::string name, Tensor t) {
    Value v;
    v.name = std::move(name);
    v.dtype = DType::f32;
    v.constant = std::move(t);
    return g_.add_value(std::move(v));
  }

  // "/encoder/layer.0/attention/self/Softmax" -> "/encoder/layer.0/attention/self/Attention".
  std::string unique_name(const std::string& softmax) {
    const auto slash = softmax.rfind('/');
    std::string name = slash == std::string::npos ? softmax + "_attention" : softmax.substr(0, slash + 1) + kAttentionOp;
    if (!names_.size())
      for (const Node& n : g_.nodes) names_.insert(n.name);
    while (names_.count(name)) name += "_";
    names_.insert(name);
    return name;
  }

  Graph& g_;
  GraphIndex index_;
  std::vector<bool> removed_;
  std::set<std::string> names_;
};

}  // namespace

std::size_t fuse_attention(Graph& graph) { return AttentionMatcher(graph).run(); }

}  // namespace cpuinfer::engine
