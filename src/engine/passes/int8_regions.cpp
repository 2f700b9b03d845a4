// Static int8 regions: matching the patterns, checking the region's values, rewriting.
#include "engine/passes/int8_regions.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "engine/passes/dynamic_int8.h"
#include "engine/passes/graph_index.h"

namespace cpuinfer::engine {

namespace {

// Of type `op` in the default domain, with a first input and a first output (a model may leave
// optional ones out, kNoValue, which no pattern here has).
bool is_default(const Node& n, const char* op) {
  return n.domain.empty() && n.op_type == op && !n.inputs.empty() && n.inputs[0] != kNoValue && !n.outputs.empty() &&
         n.outputs[0] != kNoValue;
}

struct QParams {
  float scale = 1.0f;
  std::int64_t zero = 0;
};

struct Pattern {
  std::string op;                     // "Conv", "Add", "MaxPool"
  std::size_t node = 0;
  std::optional<std::size_t> relu;
  std::size_t quantize = 0;           // the QuantizeLinear after
  std::vector<std::size_t> dequantize;  // on the activation inputs, in input order
  std::vector<ValueId> in;            // their uint8 sources
  std::vector<QParams> in_params;
  ValueId out = kNoValue;             // the QuantizeLinear's output
  QParams out_params;
  // Conv only:
  std::vector<std::size_t> constant_dequantize;  // of the weights and bias
  ValueId weights = kNoValue;
  std::vector<float> weight_scales;
  std::optional<Tensor> bias;         // float32
  // A residual Add merged into the Conv: its other operand, added in the sums' domain.
  ValueId residual = kNoValue;
  QParams residual_params, conv_params;  // conv_params: the Conv's own output quantization
  bool relu_after_sum = false;
  std::vector<std::size_t> absorbed;  // the merged Add's nodes (and the DequantizeLinear between)
};

class RegionBuilder {
 public:
  explicit RegionBuilder(Graph& g) : g_(g), index_(g) {}

  std::size_t run() {
    std::vector<Pattern> patterns;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      if (auto p = match(i)) patterns.push_back(std::move(*p));
    while (!patterns.empty() && prune(patterns)) {
    }
    if (patterns.empty()) return 0;
    const std::size_t count = patterns.size();
    merge_residual_adds(patterns);
    rewrite(patterns);
    return count;
  }

 private:
  // A scalar float32 scale and optional scalar uint8 zero point: inputs 1 and 2 of a Q or DQ.
  std::optional<QParams> scalar_params(const Node& n) const {
    if (n.inputs.size() < 2) return std::nullopt;
    const auto scale = index_.scalar(n.inputs[1]);
    if (!scale || !(*scale > 0.0f) || !std::isfinite(*scale)) return std::nullopt;
    QParams p{*scale, 0};
    if (n.inputs.size() > 2 && n.inputs[2] != kNoValue) {
      const Tensor* z = index_.constant(n.inputs[2]);
      if (!z || z->dtype() != DType::u8 || z->numel() != 1) return std::nullopt;
      p.zero = z->values<std::uint8_t>()[0];
    }
    return p;
  }

  struct Source {
    std::size_t dq;
    ValueId value;
    QParams params;
  };
  // f = DequantizeLinear(uint8 activation) with one scale and zero point.
  std::optional<Source> activation(ValueId f) const {
    const auto p = index_.producer(f);
    if (!p || !is_default(g_.nodes[*p], "DequantizeLinear")) return std::nullopt;
    const Node& dq = g_.nodes[*p];
    const auto params = scalar_params(dq);
    if (!params || index_.constant(dq.inputs[0]) || index_.is_output(f)) return std::nullopt;
    return Source{*p, dq.inputs[0], *params};
  }

  // The uint8 output of f -> [Relu ->] QuantizeLinear, each the only reader.
  bool requantized(ValueId f, Pattern& p, bool relu_allowed) const {
    auto only_reader = [&](ValueId v) -> std::optional<std::size_t> {
      const auto& r = index_.readers(v);
      if (r.size() != 1 || index_.is_output(v) || g_.nodes[r[0]].inputs.empty() || g_.nodes[r[0]].inputs[0] != v) return std::nullopt;
      return r[0];
    };
    auto next = only_reader(f);
    if (next && relu_allowed && is_default(g_.nodes[*next], "Relu")) {
      p.relu = *next;
      next = only_reader(g_.nodes[*next].outputs[0]);
    }
    if (!next || !is_default(g_.nodes[*next], "QuantizeLinear")) return false;
    const auto params = scalar_params(g_.nodes[*next]);
    if (!params) return false;
    p.quantize = *next;
    p.out = g_.nodes[*next].outputs[0];
    p.out_params = *params;
    return true;
  }

  bool add_activation(ValueId f, Pattern& p) const {
    const auto s = activation(f);
    if (!s) return false;
    p.dequantize.push_back(s->dq);
    p.in.push_back(s->value);
    p.in_params.push_back(s->params);
    return true;
  }

  // DequantizeLinear(constant int8 [M, C/g, kh, kw], per-map or one scale, zero points 0).
  bool conv_weights(ValueId f, Pattern& p) const {
    const auto d = index_.producer(f);
    if (!d || !is_default(g_.nodes[*d], "DequantizeLinear")) return false;
    const Node& dq = g_.nodes[*d];
    const Tensor* w = index_.constant(dq.inputs[0]);
    const Tensor* s = dq.inputs.size() > 1 ? index_.constant(dq.inputs[1]) : nullptr;
    if (!w || w->dtype() != DType::i8 || w->rank() != 4 || !s || s->dtype() != DType::f32 || !within_exact_limit(*w)) return false;
    const std::int64_t maps = w->dim(0);
    if (s->numel() != 1 && !(s->rank() == 1 && s->dim(0) == maps && (dq.get_int("axis", 1) == 0 || dq.get_int("axis", 1) == -4)))
      return false;
    if (!index_.zero_or_absent(dq.inputs.size() > 2 ? dq.inputs[2] : kNoValue, DType::i8)) return false;
    const auto sv = s->values<float>();
    for (std::int64_t m = 0; m < maps; ++m) p.weight_scales.push_back(sv[s->numel() == 1 ? 0 : static_cast<std::size_t>(m)]);
    if (!std::ranges::all_of(p.weight_scales, [](float v) { return v > 0.0f && std::isfinite(v); })) return false;
    p.weights = dq.inputs[0];
    p.constant_dequantize.push_back(*d);
    return true;
  }

  // A float32 constant bias, or DequantizeLinear(constant int32, scales, zero points 0).
  bool conv_bias(ValueId f, std::int64_t maps, Pattern& p) const {
    if (const Tensor* b = index_.constant(f)) {
      if (b->dtype() != DType::f32 || b->numel() != static_cast<std::size_t>(maps)) return false;
      p.bias = *b;
      return true;
    }
    const auto d = index_.producer(f);
    if (!d || !is_default(g_.nodes[*d], "DequantizeLinear")) return false;
    const Node& dq = g_.nodes[*d];
    const Tensor* q = index_.constant(dq.inputs[0]);
    const Tensor* s = dq.inputs.size() > 1 ? index_.constant(dq.inputs[1]) : nullptr;
    if (!q || q->dtype() != DType::i32 || q->numel() != static_cast<std::size_t>(maps) || !s || s->dtype() != DType::f32 ||
        (s->numel() != 1 && s->numel() != static_cast<std::size_t>(maps)))
      return false;
    if (!index_.zero_or_absent(dq.inputs.size() > 2 ? dq.inputs[2] : kNoValue, DType::i32)) return false;
    Tensor b(DType::f32, {maps});
    const auto qv = q->values<std::int32_t>();
    const auto sv = s->values<float>();
    for (std::int64_t m = 0; m < maps; ++m)
      b.values<float>()[static_cast<std::size_t>(m)] =
          static_cast<float>(qv[static_cast<std::size_t>(m)]) * sv[s->numel() == 1 ? 0 : static_cast<std::size_t>(m)];
    p.bias = std::move(b);
    p.constant_dequantize.push_back(*d);
    return true;
  }

  std::optional<Pattern> match(std::size_t i) const {
    const Node& n = g_.nodes[i];
    if (!is_default(n, n.op_type.c_str())) return std::nullopt;
    Pattern p;
    p.op = n.op_type;
    p.node = i;
    if (n.op_type == "Conv") {
      if (n.inputs.size() < 2 || !add_activation(n.inputs[0], p) || !conv_weights(n.inputs[1], p)) return std::nullopt;
      const auto maps = static_cast<std::int64_t>(p.weight_scales.size());
      if (n.inputs.size() > 2 && n.inputs[2] != kNoValue && !conv_bias(n.inputs[2], maps, p)) return std::nullopt;
    } else if (n.op_type == "Add") {
      if (n.inputs.size() != 2 || !add_activation(n.inputs[0], p) || !add_activation(n.inputs[1], p)) return std::nullopt;
    } else if (n.op_type == "MaxPool") {
      const bool indices = n.outputs.size() > 1 && n.outputs[1] != kNoValue;
      if (indices || n.get_ints("kernel_shape").size() != 2 || !add_activation(n.inputs[0], p)) return std::nullopt;
    } else {
      return std::nullopt;
    }
    if (!requantized(n.outputs[0], p, p.op != "MaxPool")) return std::nullopt;
    return p;
  }

  // Drops the patterns the region cannot hold; true if it dropped any.
  bool prune(std::vector<Pattern>& patterns) const {
    // Values known to be [N, C, H, W]: a 2-D Conv's or MaxPool's, then an Add's of two such.
    std::set<ValueId> four_d;
    for (const Pattern& p : patterns)
      if (p.op != "Add") {
        four_d.insert(p.in.begin(), p.in.end());
        four_d.insert(p.out);
      }
    for (bool grew = true; grew;) {
      grew = false;
      for (const Pattern& p : patterns)
        if (p.op == "Add" && four_d.count(p.in[0]) && four_d.count(p.in[1])) grew = four_d.insert(p.out).second || grew;
    }
    std::set<ValueId> bad;
    for (const Pattern& p : patterns)
      if (p.op == "Add" && !(four_d.count(p.in[0]) && four_d.count(p.in[1]))) bad.insert(p.out);
    std::set<std::size_t> pattern_q;
    for (const Pattern& p : patterns) pattern_q.insert(p.quantize);
    for (ValueId v : four_d) {
      // Made by a pattern or a QuantizeLinear of float32 (which becomes QuantizeNhwc); read only by DequantizeLinear.
      const auto producer = index_.producer(v);
      bool ok = !index_.is_output(v) && producer &&
                (pattern_q.count(*producer) ||
                 (is_default(g_.nodes[*producer], "QuantizeLinear") && scalar_params(g_.nodes[*producer])));
      for (std::size_t r : index_.readers(v))
        ok = ok && is_default(g_.nodes[r], "DequantizeLinear") && g_.nodes[r].inputs[0] == v && scalar_params(g_.nodes[r]);
      if (!ok) bad.insert(v);
    }
    const auto before = patterns.size();
    std::erase_if(patterns, [&](const Pattern& p) {
      return bad.count(p.out) || std::ranges::any_of(p.in, [&](ValueId v) { return bad.count(v) != 0; });
    });
    return patterns.size() != before;
  }

  // A Conv whose uint8 output only a residual Add reads (ResNet's last convolution of a block)
  // computes the Add too (kernels/int8_convolution.cpp): its own quantization as post-ops, then
  // oneDNN's sum post-op adds the other operand, over which the output is placed, then the Relu.
  void merge_residual_adds(std::vector<Pattern>& patterns) const {
    std::map<ValueId, std::size_t> conv_making;
    for (std::size_t i = 0; i < patterns.size(); ++i)
      if (patterns[i].op == "Conv" && !patterns[i].relu) conv_making[patterns[i].out] = i;
    std::vector<bool> merged(patterns.size(), false);
    for (std::size_t a = 0; a < patterns.size(); ++a) {
      const Pattern& add = patterns[a];
      if (add.op != "Add") continue;
      for (std::size_t side = 0; side < 2; ++side) {
        const auto c = conv_making.find(add.in[side]);
        if (c == conv_making.end() || merged[c->second] || add.in[0] == add.in[1]) continue;
        const auto& readers = index_.readers(add.in[side]);  // the DequantizeLinear only this Add reads
        if (readers.size() != 1 || readers[0] != add.dequantize[side] || index_.readers(g_.nodes[readers[0]].outputs[0]).size() != 1)
          continue;
        Pattern& conv = patterns[c->second];
        conv.residual = add.in[1 - side];
        conv.residual_params = add.in_params[1 - side];
        conv.conv_params = conv.out_params;
        conv.out = add.out;
        conv.out_params = add.out_params;
        conv.relu_after_sum = add.relu.has_value();
        conv.absorbed = {add.node, add.quantize, add.dequantize[side]};
        if (add.relu) conv.absorbed.push_back(*add.relu);
        merged[c->second] = merged[a] = true;
        conv_making.erase(c);
        break;
      }
    }
    std::vector<Pattern> kept;
    for (std::size_t i = 0; i < patterns.size(); ++i)
      if (!(merged[i] && patterns[i].op == "Add")) kept.push_back(std::move(patterns[i]));
    patterns = std::move(kept);
  }

  ValueId add_constant(const std::string& name, Tensor t) {
    Value v;
    v.name = name;
    v.dtype = t.dtype();
    v.constant = std::move(t);
    return g_.add_value(std::move(v));
  }

  static void set_params(Node& n, const std::string& prefix, const QParams& q) {
    n.attributes[prefix + "scale"] = q.scale;
    n.attributes[prefix + "zero_point"] = q.zero;
  }

  Node make_node(const Pattern& p) {
    const Node& op = g_.nodes[p.node];
    Node n;
    n.name = op.name;
    n.domain = kEngineDomain;
    n.op_type = "Int8" + p.op;
    n.outputs = {p.out};
    n.inputs = p.in;
    n.computes = {"DequantizeLinear", p.op};
    if (p.relu) n.computes.push_back("Relu");
    n.computes.push_back("QuantizeLinear");
    if (p.op != "Add")
      for (const char* a : {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", "ceil_mode", "storage_order"})
        if (op.has(a)) n.attributes[a] = op.attributes.at(a);
    if (p.op == "Add") {
      set_params(n, "a_", p.in_params[0]);
      set_params(n, "b_", p.in_params[1]);
    } else {
      set_params(n, "x_", p.in_params[0]);
    }
    set_params(n, "y_", p.out_params);
    n.attributes["relu"] = std::int64_t{p.relu || p.relu_after_sum ? 1 : 0};
    if (p.op == "Conv") {
      n.inputs.push_back(p.weights);
      n.attributes["w_scales"] = p.weight_scales;
      n.inputs.push_back(p.bias ? add_constant(op.name + "/bias", *p.bias) : kNoValue);
      if (p.residual != kNoValue) {
        n.inputs.push_back(p.residual);
        set_params(n, "r_", p.residual_params);
        set_params(n, "c_", p.conv_params);
        n.computes.insert(n.computes.end() - 1, "Add");
        if (p.relu_after_sum) n.computes.insert(n.computes.end() - 1, "Relu");
      }
      while (n.inputs.back() == kNoValue) n.inputs.pop_back();
    }
    return n;
  }

  // A QuantizeLinear or DequantizeLinear at the region's edge becomes `op` with its scale and zero
  // point as attributes.
  void to_region_edge(Node& n, const char* op, const char* computes) const {
    const QParams params = *scalar_params(n);
    n.domain = kEngineDomain;
    n.op_type = op;
    n.inputs.resize(1);
    n.attributes.clear();
    set_params(n, "", params);
    n.computes = {computes};
  }

  void rewrite(const std::vector<Pattern>& patterns) {
    std::vector<bool> removed(g_.nodes.size(), false);
    std::set<std::size_t> pattern_nodes, pattern_q;
    for (const Pattern& p : patterns) {
      pattern_nodes.insert(p.node);
      pattern_q.insert(p.quantize);
      removed[p.quantize] = true;
      if (p.relu) removed[*p.relu] = true;
      for (std::size_t n : p.absorbed) {  // a merged Add's: its QuantizeLinear now makes the Conv's output
        removed[n] = true;
        pattern_nodes.insert(n);
        pattern_q.insert(n);
      }
    }
    // A DequantizeLinear goes when only patterns read it; one that others read leaves the region.
    std::set<ValueId> region;
    for (const Pattern& p : patterns) {
      region.insert(p.in.begin(), p.in.end());
      region.insert(p.out);
      if (p.residual != kNoValue) region.insert(p.residual);
      for (std::size_t d : p.constant_dequantize) {
        const ValueId out = g_.nodes[d].outputs[0];
        removed[d] = std::ranges::all_of(index_.readers(out), [&](std::size_t r) { return pattern_nodes.count(r) != 0; }) &&
                     !index_.is_output(out);
      }
    }
    std::vector<Node> made;
    for (const Pattern& p : patterns) made.push_back(make_node(p));
    for (ValueId v : region) {
      const auto producer = index_.producer(v);
      if (!pattern_q.count(*producer)) to_region_edge(g_.nodes[*producer], "QuantizeNhwc", "QuantizeLinear");  // entering the region
      for (std::size_t r : index_.readers(v)) {
        Node& dq = g_.nodes[r];
        if (dq.domain == kEngineDomain) continue;  // already rewritten (a node reading v twice)
        const ValueId out = dq.outputs[0];
        if (!index_.is_output(out) && std::ranges::all_of(index_.readers(out), [&](std::size_t n) { return pattern_nodes.count(n) != 0; })) {
          removed[r] = true;
          continue;
        }
        to_region_edge(dq, "DequantizeNhwc", "DequantizeLinear");  // leaving it
      }
    }
    std::size_t next = 0;
    for (const Pattern& p : patterns) g_.nodes[p.node] = std::move(made[next++]);
    std::vector<Node> kept;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      if (!removed[i]) kept.push_back(std::move(g_.nodes[i]));
    g_.nodes = std::move(kept);
    sort_topologically(g_);  // a merged Add's other operand may come later in the file (ResNet's downsample)
    release_unread_constants(g_);
  }

  Graph& g_;
  GraphIndex index_;
};

}  // namespace

std::size_t form_int8_regions(Graph& graph) { return RegionBuilder(graph).run(); }

}  // namespace cpuinfer::engine
