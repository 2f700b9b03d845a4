// One entry point for reports: result files in, an HTML or Markdown file out (written atomically).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "report/report_data.h"

namespace cpuinfer {

enum class ReportFormat { html, markdown };

// Throws cpuinfer::Error naming the culprit (a results file and line, the chart library, the output).
void write_report(const std::vector<std::filesystem::path>& results, const ReportOptions& options, ReportFormat format,
                  const std::filesystem::path& out);

}  // namespace cpuinfer
