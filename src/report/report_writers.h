// Laying out report data: one self-contained HTML page (Vega-Lite charts, inlined, no network at
// view time) or Markdown tables for pull requests and READMEs.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace cpuinfer {

// `charts` is the folder holding the npm packages vega, vega-lite and vega-embed; their built
// scripts are inlined. Throws cpuinfer::Error if they are missing.
std::string render_html_report(const nlohmann::json& report, const std::filesystem::path& charts);
std::string render_markdown_report(const nlohmann::json& report);

}  // namespace cpuinfer
