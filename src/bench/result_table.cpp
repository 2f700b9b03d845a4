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
  std::string out = fmt::format("{:<16} {:>5} {:>9} {:>9} {:>9} {:>9} {:>8} {:>7} {:>10} {:>8}  {}\n", "backend",
                                "batch", "p50 ms", "p90 ms", "ms/sample", "sample/s", "accuracy", "top1 =",
                                "max |diff|", "RSS MB", "status");
  for (const auto& row : rows) {
    out += fmt::format("{:<16} {:>5} {:>9} {:>9} {:>9} {:>9} {:>8} {:>7} {:>10} {:>8}  {}\n",
                       row.value("name", ""), row.value("batch_size", 0), number(row, "latency_p50_ms", "{:.1f}"),
                       number(row, "latency_p90_ms", "{:.1f}"), number(row, "time_per_input", "{:.2f}", 1000.0),
                       number(row, "samples_per_s", "{:.2f}"), number(row, "accuracy", "{:.1f}%", 100.0),
                       number(row, "top1_agreement", "{:.0f}%", 100.0), number(row, "max_abs_diff", "{:.2e}"),
                       number(row, "peak_rss_mb", "{:.0f}"), row.value("status", ""));
  }
  return out;
}

}  // namespace cpuinfer
