// Fixed-width table: one line per (backend, batch size, padding), its repeats summed up as medians.
#include "bench/result_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

#include "bench/metrics.h"
#include "core/significant_digits.h"

namespace cpuinfer {

namespace {

using Row = nlohmann::ordered_json;

std::optional<double> value_of(const Row& row, const char* key) {
  const auto it = row.find(key);
  if (it == row.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string number(std::optional<double> v, const char* format, double scale = 1.0) {
  return v ? fmt::format(fmt::runtime(format), *v * scale) : "-";
}

// Milliseconds to three significant digits however small: 0.0123, not 0.0.
std::string ms(std::optional<double> v, double scale = 1.0) { return v ? significant_digits(*v * scale) : "-"; }

std::string text_of(const Row& row, const char* key) {
  const auto it = row.find(key);
  return it != row.end() && it->is_string() ? it->get<std::string>() : "";
}

int repeat_of(const Row& row) {
  const auto it = row.find("repeat");
  return it != row.end() && it->is_number_integer() ? it->get<int>() : 0;
}

bool is_ok(const Row& row) { return text_of(row, "status") == "ok"; }
// Ran to the end: ok, or with outputs beyond the tolerance (its figures shown, never its speed-up).
bool measured(const Row& row) { return is_ok(row) || text_of(row, "status").rfind("disagrees", 0) == 0; }

double median(const std::vector<double>& values) { return percentile(values, 0.5); }

// Of the rows that ran: the median of `key`, or the smallest or largest.
enum class Pick { median, min, max };
std::optional<double> pick(const std::vector<const Row*>& rows, const char* key, Pick how = Pick::median) {
  std::vector<double> values;
  for (const Row* row : rows)
    if (const auto v = value_of(*row, key)) values.push_back(*v);
  if (values.empty()) return std::nullopt;
  if (how == Pick::min) return *std::min_element(values.begin(), values.end());
  if (how == Pick::max) return *std::max_element(values.begin(), values.end());
  return median(values);
}

using Key = std::tuple<std::string, int, std::string>;  // backend, batch size, padding
Key key_of(const Row& row) { return {text_of(row, "name"), row.value("batch_size", 0), text_of(row, "padding")}; }

}  // namespace

std::string format_result_table(const std::vector<Row>& rows) {
  // Padding columns only when some row has a padding strategy (text workloads).
  bool padded = false;
  for (const auto& row : rows) padded |= row.contains("padding") && row["padding"].is_string();

  // Configurations in the order of their first row; each with its rows, one per repeat.
  std::vector<Key> order;
  std::map<Key, std::vector<const Row*>> runs;
  for (const auto& row : rows) {
    auto& list = runs[key_of(row)];
    if (list.empty()) order.push_back(key_of(row));
    list.push_back(&row);
  }
  bool repeated = false;
  for (const auto& [key, list] : runs) repeated |= list.size() > 1;

  // Speed-up over the reference backend's row of the same batch size, padding and repeat.
  std::map<std::tuple<Key, int>, double> seconds;  // (configuration, repeat) -> time per sample
  std::string reference;
  for (const auto& row : rows) {
    if (reference.empty()) reference = text_of(row, "reference");
    if (const auto t = value_of(row, "time_per_input"); is_ok(row) && t && *t > 0) seconds[{key_of(row), repeat_of(row)}] = *t;
  }
  auto speedup = [&](const Row& row) -> std::optional<double> {
    const std::string ref = text_of(row, "reference");
    const Key own_key = key_of(row);
    const auto own = seconds.find({own_key, repeat_of(row)});
    const auto base = seconds.find({Key{ref, std::get<1>(own_key), std::get<2>(own_key)}, repeat_of(row)});
    if (ref.empty() || own == seconds.end() || base == seconds.end()) return std::nullopt;
    return base->second / own->second;
  };

  auto padding = [&](const Row& row, const std::vector<const Row*>& ok) {
    if (!padded) return std::string();
    return fmt::format("{:<8} {:>7} {:>6} ", row.contains("padding") && row["padding"].is_string() ? row["padding"].get<std::string>() : "-",
                       number(pick(ok, "mean_real_tokens"), "{:.1f}"), number(pick(ok, "padding_fraction"), "{:.0f}%", 100.0));
  };
  std::string out = fmt::format("{:<16} {:>5} {}{}{:>9} {:>9} {:>9} {:>9} {:>8} {:>7} {:>9} {:>9} {:>8} {:>7}{}  {}\n", "backend",
                                "batch", padded ? fmt::format("{:<8} {:>7} {:>6} ", "padding", "tokens", "pad") : "",
                                repeated ? fmt::format("{:>7} ", "repeats") : "", "p50 ms", "p90 ms", "ms/sample",
                                "sample/s", "accuracy", "top1 =", "abs diff", "rel diff", "RSS MB", "vs ref",
                                repeated ? fmt::format(" {:>11}", "min-max") : "", "status");
  bool any_speedup = false;
  for (const Key& key : order) {
    const auto& list = runs[key];
    const Row& first = *list.front();
    std::vector<const Row*> ok;
    std::vector<double> ratios;
    std::string failure;
    for (const Row* row : list) {
      if (!is_ok(*row) && failure.empty()) failure = text_of(*row, "status");
      if (!measured(*row)) continue;
      ok.push_back(row);
      if (const auto s = is_ok(*row) ? speedup(*row) : std::nullopt) ratios.push_back(*s);
    }
    std::size_t ok_count = 0;
    for (const Row* row : list) ok_count += is_ok(*row);
    any_speedup |= !ratios.empty();
    // Without repeats a row's own status; with them "ok", or how many ran and the first failure.
    const std::string status = ok_count == list.size() ? text_of(first, "status")
                               : ok_count == 0           ? failure
                                                         : fmt::format("{}/{} ok; {}", ok_count, list.size(), failure);
    std::string range;
    if (repeated)
      range = ratios.empty() ? fmt::format(" {:>11}", "-")
                             : fmt::format(" {:>11}", fmt::format("{:.2f}-{:.2f}", *std::min_element(ratios.begin(), ratios.end()),
                                                                  *std::max_element(ratios.begin(), ratios.end())));
    out += fmt::format("{:<16} {:>5} {}{}{:>9} {:>9} {:>9} {:>9} {:>8} {:>7} {:>9} {:>9} {:>8} {:>7}{}  {}\n",
                       text_of(first, "name"), first.value("batch_size", 0), padding(first, ok),
                       repeated ? fmt::format("{:>7} ", fmt::format("{}/{}", ok.size(), list.size())) : "",
                       ms(pick(ok, "latency_p50_ms")), ms(pick(ok, "latency_p90_ms")), ms(pick(ok, "time_per_input"), 1000.0),
                       number(pick(ok, "samples_per_s"), "{:.2f}"), number(pick(ok, "accuracy"), "{:.1f}%", 100.0),
                       number(pick(ok, "top1_agreement", Pick::min), "{:.0f}%", 100.0),
                       number(pick(ok, "max_abs_diff", Pick::max), "{:.2e}"), number(pick(ok, "max_rel_diff", Pick::max), "{:.2e}"),
                       number(pick(ok, "peak_rss_mb", Pick::max), "{:.0f}"),
                       ratios.empty() ? std::string("-") : fmt::format("{:.2f}x", median(ratios)), range, status);
  }
  out += "abs diff, rel diff: max |output - reference's| over the compared samples, and that over max |reference's|; a row "
         "beyond its tolerance is `disagrees` and shows no speed-up\n";
  if (any_speedup)
    out += fmt::format("vs ref: speed-up over the reference backend ({}) at the same batch size and padding{}\n", reference,
                       repeated ? "; medians over the repeats that ran, the ratio's min-max across them (each repeat "
                                  "against the reference's row of the same repeat)"
                                : "");
  return out;
}

}  // namespace cpuinfer
