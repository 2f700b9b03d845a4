// Dynamic int8 Linear layers: matching the chain, making the marked MatMul.
#include "engine/passes/dynamic_int8.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "engine/isa.h"
#include "engine/passes/graph_index.h"

namespace cpuinfer::engine {

namespace {

// Of type `op` in the default domain, with a first input and a first output (a model may leave
// optional ones out, kNoValue, which no pattern here has).
bool is_default(const Node& n, const char* op) {
  return n.domain.empty() && n.op_type == op && !n.inputs.empty() && n.inputs[0] != kNoValue && !n.outputs.empty() &&
         n.outputs[0] != kNoValue;
}

}  // namespace

bool within_exact_limit(const Tensor& int8_weights) {
  const auto limit = static_cast<std::int8_t>(exact_int8_weight_limit());
  const auto values = int8_weights.values<std::int8_t>();
  return std::ranges::all_of(values, [&](std::int8_t v) { return v >= -limit && v <= limit; });
}

namespace {

class DynamicInt8Matcher {
 public:
  explicit DynamicInt8Matcher(Graph& g) : g_(g), index_(g), removed_(g.nodes.size(), false) {}

  std::size_t run() {
    std::size_t folded = 0;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      if (is_default(g_.nodes[i], "MatMulInteger")) folded += try_fold(i);
    if (!folded) return 0;
    // A DynamicQuantizeLinear whose outputs nobody reads any more goes too.
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      if (!is_default(n, "DynamicQuantizeLinear")) continue;
      removed_[i] = std::ranges::all_of(n.outputs, [&](ValueId out) {
        return out == kNoValue || (!index_.is_output(out) && std::ranges::all_of(index_.readers(out), [&](std::size_t r) { return removed_[r]; }));
      });
    }
    std::vector<Node> kept;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      if (!removed_[i]) kept.push_back(std::move(g_.nodes[i]));
    for (Node& n : replacements_) kept.push_back(std::move(n));
    g_.nodes = std::move(kept);
    sort_topologically(g_);
    release_unread_constants(g_);
    return folded;
  }

 private:
  // The only reader of v, of type op, when v is not a graph output.
  std::optional<std::size_t> only_reader(ValueId v, const char* op) const {
    const auto& r = index_.readers(v);
    if (r.size() != 1 || index_.is_output(v) || removed_[r[0]] || !is_default(g_.nodes[r[0]], op)) return std::nullopt;
    return r[0];
  }
  // The other input of a two-input node, given one of them.
  static std::optional<ValueId> other_input(const Node& n, ValueId one) {
    if (n.inputs.size() != 2) return std::nullopt;
    if (n.inputs[0] == one) return n.inputs[1];
    if (n.inputs[1] == one) return n.inputs[0];
    return std::nullopt;
  }
  std::size_t try_fold(std::size_t mmi) {
    const Node& mm = g_.nodes[mmi];
    if (mm.inputs.size() < 3 || mm.outputs.size() != 1) return 0;
    const auto dql = index_.producer(mm.inputs[0]);
    if (!dql || !is_default(g_.nodes[*dql], "DynamicQuantizeLinear")) return 0;
    const Node& q = g_.nodes[*dql];
    if (q.outputs.size() != 3 || mm.inputs[0] != q.outputs[0] || mm.inputs[2] != q.outputs[2]) return 0;
    const Tensor* w = index_.constant(mm.inputs[1]);
    if (!w || w->dtype() != DType::i8 || w->rank() != 2 || !index_.zero_or_absent(mm.inputs.size() > 3 ? mm.inputs[3] : kNoValue, DType::i8)) return 0;
    if (!within_exact_limit(*w)) return 0;
    const std::int64_t k = w->dim(0), n = w->dim(1);
    const auto cast = only_reader(mm.outputs[0], "Cast");
    if (!cast || g_.nodes[*cast].get_int("to", 0) != 1 /* FLOAT */) return 0;
    const auto mul = only_reader(g_.nodes[*cast].outputs[0], "Mul");
    if (!mul) return 0;
    const auto combined = other_input(g_.nodes[*mul], g_.nodes[*cast].outputs[0]);
    if (!combined) return 0;
    const auto scale_mul = index_.producer(*combined);
    if (!scale_mul || !is_default(g_.nodes[*scale_mul], "Mul") || index_.is_output(*combined)) return 0;
    const auto w_scale = other_input(g_.nodes[*scale_mul], q.outputs[1]);
    const Tensor* s = w_scale ? index_.constant(*w_scale) : nullptr;
    if (!s || s->dtype() != DType::f32 || (s->numel() != 1 && !(s->rank() == 1 && s->dim(0) == n))) return 0;
    std::vector<float> scales(static_cast<std::size_t>(n));
    const auto given = s->values<float>();
    for (std::int64_t j = 0; j < n; ++j) scales[static_cast<std::size_t>(j)] = given[s->numel() == 1 ? 0 : static_cast<std::size_t>(j)];
    if (!std::ranges::all_of(scales, [](float v) { return v > 0.0f && std::isfinite(v); })) return 0;

    Tensor weights(DType::f32, {k, n});
    const auto wq = w->values<std::int8_t>();
    float* dst = weights.values<float>().data();
    for (std::int64_t r = 0; r < k; ++r)
      for (std::int64_t j = 0; j < n; ++j) dst[r * n + j] = static_cast<float>(wq[static_cast<std::size_t>(r * n + j)]) * scales[static_cast<std::size_t>(j)];
    Value wv;
    wv.name = g_.values[static_cast<std::size_t>(mm.inputs[1])].name + "/dequantized";
    wv.dtype = DType::f32;
    wv.constant = std::move(weights);

    Node product;
    product.name = mm.name;
    product.op_type = "MatMul";
    product.inputs = {q.inputs.at(0), g_.add_value(std::move(wv))};
    product.outputs = {g_.nodes[*mul].outputs[0]};
    product.attributes[kInt8ScalesAttribute] = std::move(scales);
    product.computes = {"DynamicQuantizeLinear", "MatMulInteger", "Cast", "Mul"};
    replacements_.push_back(std::move(product));
    for (std::size_t r : {mmi, *cast, *mul}) removed_[r] = true;
    // The scales' product goes when this chain was its only reader.
    if (index_.readers(*combined).size() == 1) removed_[*scale_mul] = true;
    return 1;
  }

  Graph& g_;
  GraphIndex index_;
  std::vector<bool> removed_;
  std::vector<Node> replacements_;
};

}  // namespace

std::size_t fold_dynamic_int8(Graph& graph) { return DynamicInt8Matcher(graph).run(); }

}  // namespace cpuinfer::engine
