// TfIdfVectorizer on integer tokens: counts the n-grams of a pool in each row (n from
// min_gram_length to max_gram_length, tokens 1 + skip apart for every skip up to max_skip_count;
// a unigram counts once per position), then weighs the counts as TF, IDF or TFIDF.
#include <map>

#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

namespace {

struct Pool {
  std::int64_t min_gram = 1, max_gram = 1, max_skip = 0;
  std::vector<std::map<std::vector<std::int64_t>, std::int64_t>> columns;  // per n - 1: n-gram -> output column
  std::int64_t width = 0;                                                  // output columns
};

Pool read_pool(const Node& node, const NodeInfo& info) {
  Pool p;
  p.min_gram = node.get_int("min_gram_length", 0);
  p.max_gram = node.get_int("max_gram_length", 0);
  p.max_skip = node.get_int("max_skip_count", 0);
  if (p.min_gram < 1 || p.max_gram < p.min_gram || p.max_skip < 0)
    info.fail("min_gram_length {}, max_gram_length {} and max_skip_count {} are inconsistent", p.min_gram, p.max_gram, p.max_skip);
  if (node.has("pool_strings")) info.unsupported("string n-grams (pool_strings)");
  const std::vector<std::int64_t> pool = node.get_ints("pool_int64s"), counts = node.get_ints("ngram_counts"),
                                  indexes = node.get_ints("ngram_indexes");
  p.columns.resize(counts.size());
  std::size_t ngram = 0;
  for (std::size_t level = 0; level < counts.size(); ++level) {
    const std::int64_t n = static_cast<std::int64_t>(level) + 1;
    const std::int64_t begin = counts[level], end = level + 1 < counts.size() ? counts[level + 1] : static_cast<std::int64_t>(pool.size());
    if (begin < 0 || end < begin || end > static_cast<std::int64_t>(pool.size()) || (end - begin) % n != 0)
      info.fail("ngram_counts {} does not split the pool of {} tokens into {}-grams", begin, pool.size(), n);
    for (std::int64_t at = begin; at < end; at += n, ++ngram) {
      if (ngram >= indexes.size()) info.fail("ngram_indexes has {} values for more n-grams", indexes.size());
      if (indexes[ngram] < 0) info.fail("ngram_indexes has the negative column {}", indexes[ngram]);
      p.columns[level][std::vector<std::int64_t>(pool.begin() + at, pool.begin() + at + n)] = indexes[ngram];
      p.width = std::max(p.width, indexes[ngram] + 1);
    }
  }
  return p;
}

std::unique_ptr<Kernel> make_tfidf(const Node& node, std::int64_t) {
  NodeInfo info(node);
  const std::string mode = node.get_string("mode", "");
  if (mode != "TF" && mode != "IDF" && mode != "TFIDF") info.fail("mode must be TF, IDF or TFIDF, got '{}'", mode);
  const Pool pool = read_pool(node, info);
  const std::vector<float> weights = node.has("weights") ? node.get_floats("weights") : std::vector<float>{};
  if (!weights.empty() && static_cast<std::int64_t>(weights.size()) < pool.width)
    info.fail("weights has {} values for {} columns", weights.size(), pool.width);
  return make_function_kernel([info, mode, pool, weights](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    if (x.rank() != 1 && x.rank() != 2) info.fail("input of shape {} is not [C] or [N, C]", shape_string(x.shape()));
    const std::vector<std::int64_t> tokens = info.ints(x, "input");
    const std::int64_t rows = x.rank() == 2 ? x.dim(0) : 1, length = x.dim(x.rank() - 1);
    Tensor y(DType::f32, x.rank() == 2 ? Shape{rows, pool.width} : Shape{pool.width});
    float* out = y.values<float>().data();
    std::vector<std::int64_t> gram;
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t* row = tokens.data() + r * length;
      float* counts = out + r * pool.width;
      for (std::int64_t skip = 0; skip <= pool.max_skip; ++skip)
        for (std::int64_t start = 0; start < length; ++start) {
          gram.clear();
          for (std::int64_t n = 1, at = start; n <= pool.max_gram && at < length; ++n, at += skip + 1) {
            gram.push_back(row[at]);
            if (n < pool.min_gram || (n == 1 && skip > 0) || static_cast<std::size_t>(n) > pool.columns.size()) continue;
            const auto& level = pool.columns[static_cast<std::size_t>(n - 1)];
            if (auto it = level.find(gram); it != level.end()) counts[it->second] += 1;
          }
        }
      for (std::int64_t c = 0; c < pool.width; ++c) {
        const float w = weights.empty() ? 1.0f : weights[static_cast<std::size_t>(c)];
        if (mode == "IDF") counts[c] = counts[c] > 0 ? w : 0.0f;
        else if (mode == "TFIDF") counts[c] *= w;
      }
    }
    return one(std::move(y));
  });
}

}  // namespace

void add_ngram_kernels(KernelTable& t) { t.add("TfIdfVectorizer", make_tfidf, {9, kNewestOpset}, {DType::i32, DType::i64}); }

}  // namespace cpuinfer::engine
