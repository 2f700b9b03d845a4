// Token packing: finding the token-wise region between the attentions and rewriting its edges.
#include "engine/passes/token_packing.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "engine/passes/attention_fusion.h"
#include "engine/passes/graph_index.h"

namespace cpuinfer::engine {

namespace {

bool is(const Node& n, const char* op) { return n.domain.empty() && n.op_type == op; }
bool is_engine(const Node& n, const char* op) { return n.domain == kEngineDomain && n.op_type == op; }

const std::set<std::string> kUnary = {"Relu", "Erf", "Tanh", "Sigmoid", "Sqrt", "Reciprocal", "Neg", "Exp", "Abs", "Identity", "Cast"};
const std::set<std::string> kBinary = {"Add", "Sub", "Mul", "Div", "Pow"};

class Packer {
 public:
  explicit Packer(Graph& g) : g_(g), index_(g) {}

  std::size_t run() {
    std::optional<std::size_t> first;
    for (std::size_t i = 0; i < g_.nodes.size() && !first; ++i)
      if (is_engine(g_.nodes[i], kAttentionOp)) first = i;
    if (!first) return 0;
    const Node& attention = g_.nodes[*first];
    if (attention.inputs.size() != 4) return 0;  // no mask: nothing to learn the lengths from
    start_ = attention.inputs[0];
    mask_ = attention.inputs[3];
    if (!grow_region() || packed_.count(mask_)) return 0;  // a mask computed from the region: no
    // PackTokens goes before the region's first node; the sort moves what computes the mask
    // before it where an exporter put that later.
    std::size_t at = g_.nodes.size();
    for (std::size_t r : index_.readers(start_)) at = std::min(at, r);
    rewrite(at);
    if (const std::string cycle = sort_topologically(g_); !cycle.empty()) fail("packing tokens made a cycle at node {}", cycle);
    return 1;
  }

 private:
  // Operands that broadcast the same over every token: one value, or one row of the hidden axis.
  bool per_row_constant(ValueId v) const {
    const Tensor* t = index_.constant(v);
    if (!t || t->rank() > 3) return false;
    for (std::size_t d = 0; d + 1 < t->rank(); ++d)
      if (t->dim(d) != 1) return false;
    return true;
  }
  bool packed_or_per_row(ValueId v) const { return packed_.count(v) || per_row_constant(v); }

  // Whether n computes each token of its packed input from that token alone.
  bool token_wise(const Node& n) const {
    if (n.outputs.empty() || n.inputs.empty()) return false;
    if (n.domain.empty() && kBinary.count(n.op_type))  // the packed operand may come second
      return n.inputs.size() == 2 && packed_or_per_row(n.inputs[0]) && packed_or_per_row(n.inputs[1]);
    if (!packed_.count(n.inputs[0])) return false;
    if (is_engine(n, kAttentionOp)) return n.inputs.size() == 4 && n.inputs[3] == mask_;
    if ((is(n, "MatMul") || is_engine(n, "FusedMatMul")) && n.inputs.size() >= 2) {
      const Tensor* w = index_.constant(n.inputs[1]);
      if (!w || w->rank() != 2) return false;
      for (std::size_t k = 2; k < n.inputs.size(); ++k)
        if (!packed_or_per_row(n.inputs[k])) return false;
      return true;
    }
    if (n.domain.empty() && kUnary.count(n.op_type)) return n.input_count() == 1;
    if (is(n, "LayerNormalization")) {
      const std::int64_t axis = n.get_int("axis", -1);
      const bool stats_unread = std::all_of(n.outputs.begin() + 1, n.outputs.end(), [&](ValueId v) {
        return v == kNoValue || (index_.readers(v).empty() && !index_.is_output(v));
      });
      return (axis == -1 || axis == 2) && stats_unread && per_row_constant(n.inputs[1]) &&
             (n.input_count() < 3 || per_row_constant(n.inputs[2]));
    }
    if (is(n, "ReduceMean") && n.input_count() == 1) {
      const auto axes = n.get_ints("axes");
      return n.get_int("keepdims", 1) != 0 && (axes == std::vector<std::int64_t>{-1} || axes == std::vector<std::int64_t>{2});
    }
    return false;
  }

  // Gather(x, 0, axis 1): BERT's pooler reading the first token.
  bool first_token(const Node& n) const {
    if (!is(n, "Gather") || n.inputs.size() != 2 || !packed_.count(n.inputs[0]) || n.get_int("axis", 0) != 1) return false;
    const Tensor* i = index_.constant(n.inputs[1]);
    const auto values = index_.ints(n.inputs[1]);
    return i && i->rank() == 0 && values && (*values)[0] == 0;
  }

  // The values computed from start_ through token-wise nodes, in topological order (so that every
  // operand is classified before its readers); false when some reader is neither token-wise nor a
  // first-token Gather, or a packed value is a graph output.
  bool grow_region() {
    packed_.insert(start_);
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      if (std::none_of(n.inputs.begin(), n.inputs.end(), [&](ValueId in) { return packed_.count(in) != 0; })) continue;
      if (first_token(n)) {
        exits_.insert(i);
        continue;
      }
      if (!token_wise(n)) return false;
      if (is_engine(n, kAttentionOp)) attentions_.insert(i);
      for (ValueId out : n.outputs)
        if (out != kNoValue) packed_.insert(out);
    }
    return !exits_.empty() && std::none_of(packed_.begin(), packed_.end(), [&](ValueId v) { return index_.is_output(v); });
  }

  // The region's values of which only the first tokens are ever read: those the exits read, and
  // those whose readers all compute token by token values of this kind (not Attention: its keys
  // need every token). Found from the last node back, readers before their producers; a value
  // whose producer computes other tokens for other readers too is taken out again.
  std::set<ValueId> first_tokens_only() const {
    std::set<ValueId> only;
    auto unread = [&](ValueId v) { return index_.readers(v).empty() && !index_.is_output(v); };
    auto selectable = [&](const Node& n) {  // token-wise, all of its outputs wanted at first tokens only
      return !is_engine(n, kAttentionOp) && std::all_of(n.outputs.begin(), n.outputs.end(), [&](ValueId out) {
        return out == kNoValue || unread(out) || only.count(out);
      });
    };
    for (std::size_t i = g_.nodes.size(); i-- > 0;)
      for (ValueId out : g_.nodes[i].outputs) {
        if (out == kNoValue || out == start_ || !packed_.count(out) || unread(out) || index_.is_output(out)) continue;
        if (std::all_of(index_.readers(out).begin(), index_.readers(out).end(),
                        [&](std::size_t r) { return exits_.count(r) || selectable(g_.nodes[r]); }))
          only.insert(out);
      }
    for (bool changed = true; changed;) {
      changed = false;
      for (auto it = only.begin(); it != only.end();) {
        const Node& producer = g_.nodes[*index_.producer(*it)];
        if (!is_engine(producer, kAttentionOp) && !selectable(producer)) {
          it = only.erase(it);
          changed = true;
        } else {
          ++it;
        }
      }
    }
    return only;
  }

  void rewrite(std::size_t at) {
    // Known before any change (index_ describes the graph as it was).
    const std::set<ValueId> only = first_tokens_only();
    std::vector<std::size_t> selected;  // token-wise nodes that compute first tokens only
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      if (!is_engine(n, kAttentionOp) && !exits_.count(i) && !n.outputs.empty() && only.count(n.outputs[0])) selected.push_back(i);
    }

    const ValueId packed = add_value(g_.values[static_cast<std::size_t>(start_)].name + "/packed", DType::f32);
    const ValueId offsets = add_value(g_.values[static_cast<std::size_t>(start_)].name + "/offsets", DType::i64);
    for (Node& n : g_.nodes)
      for (ValueId& in : n.inputs)
        if (in == start_) in = packed;
    for (std::size_t a : attentions_) {
      Node& attention = g_.nodes[a];
      attention.inputs.push_back(offsets);
      if (only.count(attention.outputs[0])) attention.attributes[kFirstQueryOnly] = std::int64_t{1};
    }
    for (std::size_t e : exits_) {
      Node& gather = g_.nodes[e];
      const bool rows_selected = only.count(gather.inputs[0]) != 0;
      gather.domain = kEngineDomain;
      gather.op_type = kFirstTokenOp;
      gather.attributes.clear();
      if (rows_selected) gather.attributes[kRowsSelected] = std::int64_t{1};
      gather.inputs = {gather.inputs[0], offsets};
    }
    // A first-tokens-only node reads the first tokens of what others read whole (the residual).
    std::map<ValueId, ValueId> first_of;
    std::vector<Node> selections;
    for (std::size_t i : selected)
      for (ValueId& in : g_.nodes[i].inputs) {
        const ValueId original = in == packed ? start_ : in;
        if (in == kNoValue || !packed_.count(original) || only.count(original)) continue;
        auto [it, fresh] = first_of.try_emplace(in, kNoValue);
        if (fresh) {
          it->second = add_value(g_.values[static_cast<std::size_t>(in)].name + "/first_tokens", DType::f32);
          Node select;
          select.name = g_.values[static_cast<std::size_t>(in)].name + "/" + kFirstTokenOp;
          select.domain = kEngineDomain;
          select.op_type = kFirstTokenOp;
          select.attributes[kKeepRank] = std::int64_t{1};
          select.inputs = {in, offsets};
          select.outputs = {it->second};
          selections.push_back(std::move(select));
        }
        in = it->second;
      }
    for (Node& select : selections) g_.nodes.push_back(std::move(select));
    Node pack;
    pack.name = g_.values[static_cast<std::size_t>(start_)].name + "/" + kPackTokensOp;
    pack.domain = kEngineDomain;
    pack.op_type = kPackTokensOp;
    pack.inputs = {start_, mask_};
    pack.outputs = {packed, offsets};
    g_.nodes.insert(g_.nodes.begin() + static_cast<std::ptrdiff_t>(at), std::move(pack));
  }

  ValueId add_value(std::string name, DType dtype) {
    Value v;
    v.name = std::move(name);
    v.dtype = dtype;
    return g_.add_value(std::move(v));
  }

  Graph& g_;
  GraphIndex index_;
  ValueId start_ = kNoValue, mask_ = kNoValue;
  std::set<ValueId> packed_;
  std::set<std::size_t> attentions_, exits_;
};

}  // namespace

std::size_t pack_tokens(Graph& graph) { return Packer(graph).run(); }

std::optional<std::vector<std::int64_t>> packed_lengths(const Tensor& mask, std::int64_t batch, std::int64_t length) {
  if (mask.dtype() != DType::f32 || mask.rank() < 1 || mask.rank() > 4 || mask.dim(mask.rank() - 1) != length) return std::nullopt;
  Shape dims = mask.shape();
  while (dims.size() < 4) dims.insert(dims.begin(), 1);
  if (dims[0] != 1 && dims[0] != batch) return std::nullopt;
  const std::int64_t rows = dims[1] * dims[2];  // (head, query) pairs per sequence
  const float* data = mask.values<float>().data();
  std::vector<std::int64_t> lengths;
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* m = data + (dims[0] == 1 ? 0 : b) * rows * length;
    std::int64_t seen = 0;  // 1 + the last key some query sees
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t k = length; k-- > seen;)
        if (m[r * length + k] > kHiddenKey) {
          seen = k + 1;
          break;
        }
    if (seen == 0) return std::nullopt;
    lengths.push_back(seen);
  }
  return lengths;
}

}  // namespace cpuinfer::engine
