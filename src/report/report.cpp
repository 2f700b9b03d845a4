// Load, compute, lay out, write.
#include "report/report.h"

#include <fstream>

#include "core/error.h"
#include "core/paths.h"
#include "report/report_writers.h"
#include "report/results_file.h"

namespace cpuinfer {

void write_report(const std::vector<std::filesystem::path>& results, const ReportOptions& options, ReportFormat format,
                  const std::filesystem::path& out) {
  if (results.empty()) fail("no results files given");
  std::vector<ResultsFile> files;
  for (const auto& path : results) files.push_back(load_results_file(path));
  const nlohmann::json data = build_report_data(files, options);
  const std::string text =
      format == ReportFormat::html ? render_html_report(data, chart_library_dir()) : render_markdown_report(data);
  const std::filesystem::path tmp = out.string() + ".tmp";
  {
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    file << text;
    if (!file.flush()) fail("cannot write report {}", out.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out, ec);
  if (ec) fail("cannot write report {}: {}", out.string(), ec.message());
}

}  // namespace cpuinfer
