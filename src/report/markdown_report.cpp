// Markdown: per workload, the recommendation, every row, what ORT fused, and the failures.
#include <fmt/format.h>

#include "report/report_writers.h"

namespace cpuinfer {

namespace {

std::string num(const nlohmann::json& row, const char* key, const char* format, double scale = 1.0) {
  if (!row.contains(key) || !row[key].is_number()) return "-";
  return fmt::format(fmt::runtime(format), row[key].get<double>() * scale);
}

std::string cell(std::string text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

std::string render_markdown_report(const nlohmann::json& report) {
  std::string md = "# cpuinfer report\n\n";
  for (const auto& f : report["files"]) {
    const auto& m = f["machine"];
    md += fmt::format("- `{}`: {} on {}, weights: {}{}; {} ({} usable cores), {}{}\n", f["label"].get<std::string>(),
                      f["workload"].get<std::string>(), cell(f["dataset"].get<std::string>()),
                      f["weights"].get<std::string>(), f["random_weights"].get<bool>() ? " (accuracy meaningless)" : "",
                      m.value("cpu", "?"), m.value("usable_cores", 0), m.value("os", "?"),
                      f["complete"].get<bool>() ? "" : " — **incomplete sweep**");
    if (f["random_weights"].get<bool>()) md += fmt::format("  {}\n", f["weights_note"].get<std::string>());
  }
  const double threshold = report["threshold"].get<double>();
  for (const auto& w : report["workloads"]) {
    md += fmt::format("\n## {}\n\n### Recommendation\n\nFastest backend per batch size among those whose top-1 "
                      "agreement with the reference is at least {:.0f}%, against the baseline `{}`:\n\n",
                      w["name"].get<std::string>(), threshold * 100, report["baseline"].get<std::string>());
    md += "| run | batch | use | ms/sample | speed-up vs baseline | top-1 agreement |\n|---|---:|---|---:|---:|---:|\n";
    for (const auto& r : w["recommendations"])
      md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", r["file"].get<std::string>(), r["batch_size"].get<int>(),
                        cell(r["series"].get<std::string>()), num(r, "time_per_input", "{:.2f}", 1000.0),
                        num(r, "speedup", "{:.2f}x"), num(r, "top1_agreement", "{:.1f}%", 100.0));
    md += "\n### Results\n\n| series | batch | total s | ms/sample | p50 ms | p90 ms | p99 ms | samples/s | accuracy "
          "| top-1 agreement | max abs diff | speed-up | status |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
    for (const auto& r : w["rows"])
      md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}{} | {} | {} | {} |\n",
                        cell(r["series"].get<std::string>()), r["batch_size"].get<int>(), num(r, "total_time", "{:.3f}"),
                        num(r, "time_per_input", "{:.2f}", 1000.0), num(r, "latency_p50_ms", "{:.1f}"),
                        num(r, "latency_p90_ms", "{:.1f}"), num(r, "latency_p99_ms", "{:.1f}"),
                        num(r, "samples_per_s", "{:.2f}"), num(r, "accuracy", "{:.1f}%", 100.0),
                        num(r, "top1_agreement", "{:.1f}%", 100.0), r.value("flagged", false) ? " ⚠" : "",
                        num(r, "max_abs_diff", "{:.2e}"), num(r, "speedup", "{:.2f}x"), cell(r["status"].get<std::string>()));
    if (!w["ort_fused"].empty()) {
      md += "\n";
      for (const auto& line : w["ort_fused"]) md += fmt::format("- {}\n", line.get<std::string>());
    }
    if (!w["failures"].empty()) {
      md += "\n### Failed or unsupported\n\n";
      for (const auto& r : w["failures"])
        md += fmt::format("- {} batch {}: {}\n", cell(r["series"].get<std::string>()), r["batch_size"].get<int>(),
                          cell(r["status"].get<std::string>()));
    }
  }
  return md;
}

}  // namespace cpuinfer
