// Markdown: per workload, the recommendation, every row, the spread over repeats, cold starts, what
// ORT fused, and the failures.
#include <fmt/format.h>

#include "core/significant_digits.h"
#include "report/report_writers.h"

namespace cpuinfer {

namespace {

bool has(const nlohmann::json& row, const char* key) { return row.contains(key) && row[key].is_number(); }

std::string num(const nlohmann::json& row, const char* key, const char* format, double scale = 1.0) {
  if (!has(row, key)) return "-";
  return fmt::format(fmt::runtime(format), row[key].get<double>() * scale);
}

// Times (ms, or s) to three significant digits however small (0.0123, not 0.0).
std::string ms(const nlohmann::json& row, const char* key, double scale = 1.0) {
  if (!has(row, key)) return "-";
  return significant_digits(row[key].get<double>() * scale);
}

// "1.25x (1.20–1.31)": the median ratio and its range over repeats, where there are several.
std::string speedup(const nlohmann::json& row) {
  std::string text = num(row, "speedup", "{:.2f}x");
  if (has(row, "speedup_min") && row.value("repeats_ok", 1) > 1)
    text += fmt::format(" ({:.2f}–{:.2f})", row["speedup_min"].get<double>(), row["speedup_max"].get<double>());
  return text;
}

// "12.3 (11.9–13.0)" for a median and its range.
std::string ms_spread(const nlohmann::json& row, const char* key, double scale = 1.0) {
  const std::string k = key;
  std::string text = ms(row, key, scale);
  if (has(row, (k + "_min").c_str()) && row[k + "_min"] != row[k + "_max"])
    text += fmt::format(" ({}–{})", ms(row, (k + "_min").c_str(), scale), ms(row, (k + "_max").c_str(), scale));
  return text;
}

std::string cell(std::string text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

// The ⚠ goes beside what judged the row: top-1 where it was compared, else the relative difference.
std::string flag(const nlohmann::json& row, bool top1_column) {
  return row.value("flagged", false) && has(row, "top1_agreement") == top1_column ? " ⚠" : "";
}

}  // namespace

std::string render_markdown_report(const nlohmann::json& report) {
  std::string md = "# cpuinfer report\n\n";
  for (const auto& f : report["files"]) {
    const auto& m = f["machine"];
    md += fmt::format("- `{}`: {} on {}, weights: {}{}; {} ({} usable cores), {}; speed-ups against `{}`{}{}\n",
                      f["label"].get<std::string>(), f["workload"].get<std::string>(), cell(f["dataset"].get<std::string>()),
                      f["weights"].get<std::string>(), f["random_weights"].get<bool>() ? " (accuracy meaningless)" : "",
                      m.value("cpu", "?"), m.value("usable_cores", 0), m.value("os", "?"), f["baseline"].get<std::string>(),
                      f.value("repeats", 1) > 1 ? fmt::format("; {} repeats", f["repeats"].get<int>()) : "",
                      f["complete"].get<bool>() ? "" : " — **incomplete sweep**");
    if (f["random_weights"].get<bool>()) md += fmt::format("  {}\n", f["weights_note"].get<std::string>());
  }
  const double threshold = report["threshold"].get<double>();
  for (const auto& w : report["workloads"]) {
    const bool repeated = w.value("repeats", 1) > 1;
    md += fmt::format("\n## {}\n\n### Recommendation\n\nFastest backend per batch size among those that agree with the "
                      "reference (top-1 agreement at least {:.0f}%, or without top-1 a max relative difference of at most "
                      "{:.0e}), against the baseline `{}`{}:\n\n",
                      w["name"].get<std::string>(), threshold * 100, report["max_rel_diff"].get<double>(),
                      w["baseline"].get<std::string>(),
                      repeated ? "; medians over the repeats, speed-up range in brackets" : "");
    md += "| run | batch | use | ms/sample | speed-up vs baseline | top-1 agreement | max rel diff |\n"
          "|---|---:|---|---:|---:|---:|---:|\n";
    for (const auto& r : w["recommendations"])
      md += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", r["file"].get<std::string>(), r["batch_size"].get<int>(),
                        cell(r["series"].get<std::string>()), ms(r, "time_per_input", 1000.0),
                        r["series"] == w["baseline"] ? std::string("the baseline") : speedup(r),
                        num(r, "top1_agreement", "{:.1f}%", 100.0), num(r, "max_rel_diff", "{:.1e}"));
    md += fmt::format("\n### Results\n\n| series | batch |{} total s | ms/sample | p50 ms | p90 ms | p99 ms | samples/s | "
                      "accuracy | top-1 agreement | max abs diff | max rel diff | speed-up | status |\n"
                      "|---|---:|{}---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
                      repeated ? " repeat |" : "", repeated ? "---:|" : "");
    for (const auto& r : w["rows"])
      md += fmt::format("| {} | {} |{} {} | {} | {} | {} | {} | {} | {} | {}{} | {} | {}{} | {} | {} |\n",
                        cell(r["series"].get<std::string>()), r["batch_size"].get<int>(),
                        repeated ? fmt::format(" {} |", num(r, "repeat", "{:.0f}")) : "",
                        ms(r, "total_time"), ms(r, "time_per_input", 1000.0), ms(r, "latency_p50_ms"),
                        ms(r, "latency_p90_ms"), ms(r, "latency_p99_ms"), num(r, "samples_per_s", "{:.2f}"),
                        num(r, "accuracy", "{:.1f}%", 100.0), num(r, "top1_agreement", "{:.1f}%", 100.0), flag(r, true),
                        num(r, "max_abs_diff", "{:.2e}"), num(r, "max_rel_diff", "{:.1e}"), flag(r, false),
                        num(r, "speedup", "{:.2f}x"), cell(r["status"].get<std::string>()));
    if (repeated) {
      md += fmt::format("\n### Across {} repeats\n\nMedian (min–max) over the repeats that ran; each speed-up against "
                        "the baseline's row of the same repeat.\n\n| series | batch | repeats ran | ms/sample | p50 ms | "
                        "speed-up | status |\n|---|---:|---:|---:|---:|---:|---|\n",
                        w["repeats"].get<int>());
      for (const auto& c : w["configurations"])
        md += fmt::format("| {} | {} | {} of {} | {} | {} | {} | {} |\n", cell(c["series"].get<std::string>()),
                          c["batch_size"].get<int>(), c["repeats_ok"].get<int>(), c["runs"].get<int>(),
                          ms_spread(c, "time_per_input", 1000.0), ms_spread(c, "latency_p50_ms"), speedup(c),
                          cell(c["status"].get<std::string>()));
    }
    if (!w["cold_start"].empty()) {
      md += fmt::format("\n### Cold start\n\nLoad: model file to ready; first run: the first inference after it{}.\n\n"
                        "| series | load ms | first run ms |\n|---|---:|---:|\n",
                        repeated ? " (median and range over the repeats' loads)" : "");
      for (const auto& c : w["cold_start"])
        md += fmt::format("| {} | {} | {} |\n", cell(c["series"].get<std::string>()), ms_spread(c, "load_ms"),
                          ms_spread(c, "first_run_ms"));
    }
    if (!w["ort_fused"].empty()) {
      md += "\n";
      for (const auto& line : w["ort_fused"]) md += fmt::format("- {}\n", line.get<std::string>());
    }
    if (!w["failures"].empty()) {
      md += "\n### Failed or unsupported\n\n";
      for (const auto& r : w["failures"])
        md += fmt::format("- {} batch {}{}: {}\n", cell(r["series"].get<std::string>()), r["batch_size"].get<int>(),
                          r.contains("repeat") && r["repeat"].is_number() ? fmt::format(" repeat {}", r["repeat"].get<int>()) : "",
                          cell(r["status"].get<std::string>()));
    }
  }
  for (const auto& run : report["load_tests"]) {
    md += fmt::format("\n## Load test {}: {} on {}\n\n{}, instances x threads {}{}.\n\n", run["label"].get<std::string>(),
                      run["kind"].get<std::string>(), cell(run["target"].get<std::string>()), run["workload"].get<std::string>(),
                      run["threads"].get<std::string>(), run["random_weights"].get<bool>() ? " (seeded random weights)" : "");
    md += "| kind | load | concurrency | offered/s | samples/s | p50 ms | p90 ms | p99 ms | early-stopping p99 ms | errors | status |\n"
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
    for (const auto& r : run["rows"])
      md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.value("kind", ""), r.value("load", ""),
                        num(r, "concurrency", "{:.0f}"), num(r, "offered_rate", "{:.3g}"), num(r, "samples_per_s", "{:.4g}"), ms(r, "p50_ms"),
                        ms(r, "p90_ms"), ms(r, "p99_ms"), ms(r, "early_stopping_p99_ms"), num(r, "errors", "{:.0f}"), cell(r.value("status", "")));
  }
  return md;
}

}  // namespace cpuinfer
