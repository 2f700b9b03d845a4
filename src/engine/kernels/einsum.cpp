// Einsum: the equation parsed once at load ("bij,bjk->bik", ellipses, repeated labels for
// diagonals, the implicit output of labels used once, in alphabetical order); each run sums the
// products of the operands over every label not in the output. Each operand is addressed by one
// stride per label (the sum of its dimensions' strides for a repeated label, 0 where it
// broadcasts).
#include <algorithm>
#include <cctype>
#include <map>

#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

namespace {

constexpr int kEllipsis = -1;  // stands for the dimensions "..." covers

struct Equation {
  std::vector<std::vector<int>> operands;  // labels ('a'..'z', 'A'..'Z') or kEllipsis, per operand
  std::vector<int> output;
};

std::vector<int> parse_term(const std::string& term, const NodeInfo& info) {
  std::vector<int> labels;
  for (std::size_t i = 0; i < term.size(); ++i) {
    const char c = term[i];
    if (c == ' ') continue;
    if (c == '.') {
      if (term.compare(i, 3, "...") != 0) info.fail("equation term '{}' has a '.' outside an ellipsis", term);
      if (std::count(labels.begin(), labels.end(), kEllipsis)) info.fail("equation term '{}' has two ellipses", term);
      labels.push_back(kEllipsis);
      i += 2;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      labels.push_back(c);
    } else {
      info.fail("equation term '{}' has the character '{}'", term, c);
    }
  }
  return labels;
}

Equation parse(const std::string& equation, const NodeInfo& info) {
  Equation e;
  const std::size_t arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);
  for (std::size_t begin = 0;;) {
    const std::size_t comma = lhs.find(',', begin);
    e.operands.push_back(parse_term(lhs.substr(begin, comma - begin), info));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  if (arrow != std::string::npos) {
    e.output = parse_term(equation.substr(arrow + 2), info);
    for (int label : e.output) {
      bool found = false;
      for (const auto& op : e.operands) found = found || std::count(op.begin(), op.end(), label);
      if (!found) info.fail("output label '{}' is in no operand", label == kEllipsis ? std::string("...") : std::string(1, char(label)));
    }
  } else {  // the ellipsis, then the labels used once, alphabetically
    std::map<int, int> uses;
    bool ellipsis = false;
    for (const auto& op : e.operands)
      for (int label : op) {
        if (label == kEllipsis) ellipsis = true;
        else ++uses[label];
      }
    if (ellipsis) e.output.push_back(kEllipsis);
    for (const auto& [label, n] : uses)  // in ASCII order, upper case first, as numpy does
      if (n == 1) e.output.push_back(label);
  }
  return e;
}

std::unique_ptr<Kernel> make_einsum(const Node& node, std::int64_t) {
  NodeInfo info(node);
  if (!node.has("equation")) info.fail("attribute 'equation' is required");
  const Equation equation = parse(node.get_string("equation", ""), info);
  return make_function_kernel([info, equation](Inputs inputs) {
    if (inputs.size() != equation.operands.size())
      info.fail("the equation has {} operands, the node {} inputs", equation.operands.size(), inputs.size());
    const DType dtype = info.input(inputs, 0).dtype();
    // Each operand's dimensions as label ids: letters keep their code, the ellipsis's dimensions
    // become ids 256 + k counted from the right (they broadcast as numpy does).
    std::size_t ellipsis_rank = 0;
    std::vector<std::vector<int>> dims_labels(inputs.size());
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const Tensor& t = info.input(inputs, k);
      if (t.dtype() != dtype) info.fail("input {} is {}, input 0 is {}", k, dtype_name(t.dtype()), dtype_name(dtype));
      const auto& labels = equation.operands[k];
      const bool has_ellipsis = std::count(labels.begin(), labels.end(), kEllipsis) != 0;
      const std::size_t letters = labels.size() - (has_ellipsis ? 1 : 0);
      if (t.rank() < letters || (!has_ellipsis && t.rank() != letters))
        info.fail("input {} of shape {} does not match its term of {} labels", k, shape_string(t.shape()), letters);
      const std::size_t covered = t.rank() - letters;
      ellipsis_rank = std::max(ellipsis_rank, covered);
      for (int label : labels) {
        if (label != kEllipsis) {
          dims_labels[k].push_back(label);
          continue;
        }
        for (std::size_t d = 0; d < covered; ++d) dims_labels[k].push_back(256 + static_cast<int>(covered - 1 - d));
      }
    }
    std::map<int, std::int64_t> size;
    for (std::size_t k = 0; k < inputs.size(); ++k)
      for (std::size_t d = 0; d < dims_labels[k].size(); ++d) {
        const int label = dims_labels[k][d];
        const std::int64_t n = inputs[k]->dim(d);
        auto [it, fresh] = size.try_emplace(label, n);
        if (fresh || it->second == n) continue;
        if (label >= 256 && (it->second == 1 || n == 1)) it->second = std::max(it->second, n);
        else info.fail("label '{}' has sizes {} and {}", label >= 256 ? std::string("...") : std::string(1, char(label)), it->second, n);
      }
    std::vector<int> out_labels;
    for (int label : equation.output) {
      if (label != kEllipsis) {
        out_labels.push_back(label);
        continue;
      }
      for (std::size_t d = ellipsis_rank; d-- > 0;) out_labels.push_back(256 + static_cast<int>(d));
    }
    std::vector<int> summed;
    for (const auto& [label, n] : size)
      if (std::find(out_labels.begin(), out_labels.end(), label) == out_labels.end()) summed.push_back(label);
    // Per operand: its stride for each output label and each summed label.
    auto strides_for = [&](std::size_t k, const std::vector<int>& labels) {
      const auto strides = contiguous_strides(inputs[k]->shape());
      std::vector<std::int64_t> s(labels.size(), 0);
      for (std::size_t j = 0; j < labels.size(); ++j)
        for (std::size_t d = 0; d < dims_labels[k].size(); ++d)
          if (dims_labels[k][d] == labels[j] && inputs[k]->dim(d) != 1) s[j] += strides[d];
      return s;
    };
    Shape out_shape, summed_shape;
    for (int label : out_labels) out_shape.push_back(size.at(label));
    for (int label : summed) summed_shape.push_back(size.at(label));
    std::vector<std::vector<std::int64_t>> out_strides, sum_strides;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      out_strides.push_back(strides_for(k, out_labels));
      sum_strides.push_back(strides_for(k, summed));
    }
    Tensor y = allocate_checked(dtype, out_shape, info);
    visit_dtype<NumericTypes>(dtype, [&](auto tag) {
      using T = decltype(tag);
      using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
      std::vector<const T*> data;
      for (std::size_t k = 0; k < inputs.size(); ++k) data.push_back(inputs[k]->template values<T>().data());
      T* out = y.values<T>().data();
      std::vector<std::int64_t> base(inputs.size());
      for_each_index(out_shape, [&](std::size_t o, const std::vector<std::int64_t>& index) {
        for (std::size_t k = 0; k < inputs.size(); ++k) {
          base[k] = 0;
          for (std::size_t j = 0; j < index.size(); ++j) base[k] += index[j] * out_strides[k][j];
        }
        Acc acc{};
        for_each_index(summed_shape, [&](std::size_t, const std::vector<std::int64_t>& s) {
          Acc term = 1;
          for (std::size_t k = 0; k < inputs.size(); ++k) {
            std::int64_t at = base[k];
            for (std::size_t j = 0; j < s.size(); ++j) at += s[j] * sum_strides[k][j];
            term = static_cast<Acc>(term * static_cast<Acc>(data[k][at]));
          }
          acc = static_cast<Acc>(acc + term);
        });
        out[o] = static_cast<T>(acc);
      });
    });
    return one(std::move(y));
  });
}

}  // namespace

void add_einsum_kernels(KernelTable& t) { t.add("Einsum", make_einsum, {12, kNewestOpset}, dtypes(NumericTypes{})); }

}  // namespace cpuinfer::engine
