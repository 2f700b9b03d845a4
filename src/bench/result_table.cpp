// Fixed-width table: one line per (backend, batch size).
#include "bench/result_table.h"

#include <fmt/format.h>

namespace cpuinfer {

namespace {
std::string number(const nlohmann::ordered_json& row, const char* key, const char* format, double scale = 1.0) {
  const auto it = row.find(key);
  if (it == row.end() || !it->is_number()) return "-";
  return fmt::format(fmt::runtime(format), it->get<double>() * scale);
}
}  // namespace

std::string format_result_table(const std::vector<nlohmann::ordered_json>& rows) {
  // Padding columns only when some row has a padding strategy (text workloads).
  bool padded = false;
  for (const auto& row : rows) padded |= row.contains("padding") && row["padding"].is_string();
  auto padding = [&](const nlohmann::ordered_json& row) {
    if (!padded) return std::string();
    return fmt::format("{:<8} {:>7} {:>6} ", row.contains("padding") && row["padding"].is_string() ? row["padding"].get<std::string>() : "-",
                       number(row, "mean_real_tokens", "{:.1f}"), number(row, "padding_fraction", "{:.0f}%", 100.0));
  };
  std::string out = fmt::format("{:<16} {:>5} {}{:>9} {:>9} {:>9} {:>9} {:>8} {:>7} {:>10} {:>8}  {}\n", "backend",
                                "batch", padded ? fmt::format("{:<8} {:>7} {:>6} ", "padding", "tokens", "pad") : "",
                                "p50 ms", "p90 ms", "ms/sample", "sample/s", "accuracy", "top1 =", "max |diff|", "RSS MB",
                                "status");
  for (const auto& row : rows) {
    out += fmt::format("{:<16} {:>5} {}{:>9} {:>9} {:>9} {:>9} {:>8} {:>7} {:>10} {:>8}  {}\n",
                       row.value("name", ""), row.value("batch_size", 0), padding(row), number(row, "latency_p50_ms", "{:.1f}"),
                       number(row, "latency_p90_ms", "{:.1f}"), number(row, "time_per_input", "{:.2f}", 1000.0),
                       number(row, "samples_per_s", "{:.2f}"), number(row, "accuracy", "{:.1f}%", 100.0),
                       number(row, "top1_agreement", "{:.0f}%", 100.0), number(row, "max_abs_diff", "{:.2e}"),
                       number(row, "peak_rss_mb", "{:.0f}"), row.value("status", ""));
  }
  return out;
}

}  // namespace cpuinfer
