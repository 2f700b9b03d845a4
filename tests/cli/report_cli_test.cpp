// `cpuinfer report` end to end: a small real sweep of both workloads, reported as one page, opened in
// headless Chromium; every chart must render with one bar per result, and the page must make no
// network request. Also Markdown, what ORT fused, bad input (truncated, empty, an unknown
// baseline), and a run of several repeats with its cold starts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <regex>

#include "core/subprocess.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

fs::path only_json(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".json") return e.path();
  return {};
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

// The page as headless Chromium leaves it (--dump-dom), its network log in `netlog` if given.
ProcessResult render(const fs::path& page, const fs::path& netlog = {}) {
  std::vector<std::string> args = {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                   "--no-first-run", "--disable-background-networking", "--disable-component-update",
                                   "--disable-sync", "--disable-features=NetworkTimeServiceQuerying",
                                   "--user-data-dir=" + (page.parent_path() / "chromium-profile").string(),
                                   "--virtual-time-budget=20000", "--dump-dom", "file://" + page.string()};
  if (!netlog.empty()) args.insert(args.end() - 3, "--log-net-log=" + netlog.string());
  return run_process(args);
}

// The bars one chart of a rendered page drew.
std::size_t bars_of(const std::string& dom, const std::string& id) {
  const auto start = dom.find("id=\"" + id + "\"");
  if (start == std::string::npos) return 0;
  const auto end = std::min(dom.find("id=\"chart-", start + 1), dom.find("<h3", start));
  return count(dom.substr(start, end - start), "aria-roledescription=\"bar\"");
}

class ReportCli : public ::testing::Test {
 protected:
  // One sweep per workload, small but real; the bert one has an unsupported row (opencv).
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir;
    testing::write_image_folder(tmp_->path() / "images", 2, 2);
    const auto r1 = testing::run_cpuinfer({"bench", "--workload", "resnet101", "--backends", "ort,libtorch", "--batch-sizes", "1,2",
                              "--samples", "2", "--data", (tmp_->path() / "images").string(), "--min-time", "0",
                              "--out", (tmp_->path() / "resnet").string(), "--quiet"});
    ASSERT_EQ(r1.exit_code, 0) << r1.output;
    const auto r2 = testing::run_cpuinfer({"bench", "--workload", "bert", "--backends", "ort,libtorch,opencv", "--batch-sizes", "2",
                              "--samples", "4", "--padding", "longest,bucket", "--min-time", "0",
                              "--out", (tmp_->path() / "bert").string(), "--quiet"});
    ASSERT_EQ(r2.exit_code, 0) << r2.output;
    EXPECT_NE(r2.output.find("report:  "), std::string::npos) << "bench writes its report";
  }
  static void TearDownTestSuite() { delete tmp_; }
  static testing::TempDir* tmp_;
};
testing::TempDir* ReportCli::tmp_ = nullptr;

TEST_F(ReportCli, HtmlRendersEveryChartOfflineInChromium) {
  const fs::path page = tmp_->path() / "report.html";
  const auto r = testing::run_cpuinfer({"report", only_json(tmp_->path() / "resnet").string(), only_json(tmp_->path() / "bert").string(),
                           "-o", page.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string html = testing::read_text(page);
  EXPECT_EQ(std::regex_search(html, std::regex(R"((src|href)\s*=\s*["']?(https?:)?//)")), false)
      << "the page references something remote";

  const fs::path netlog = tmp_->path() / "netlog.json";
  const auto browser = render(page, netlog);
  ASSERT_EQ(browser.exit_code, 0) << browser.output;
  const std::string dom = browser.output;
  ASSERT_NE(dom.find("data-charts=\"4\""), std::string::npos) << "not every chart rendered:\n" << dom.substr(0, 2000);
  EXPECT_EQ(dom.find("data-chart-error"), std::string::npos);

  // Each chart: as many bars as it has results (resnet: 2 backends x 2 batch sizes; bert: 2 x 2
  // padding strategies, the unsupported opencv rows drawn nowhere).
  const std::vector<std::pair<std::string, std::size_t>> expected = {
      {"chart-0-runtime", 4}, {"chart-0-speedup", 4}, {"chart-1-runtime", 4}, {"chart-1-speedup", 4}};
  for (const auto& [id, bars] : expected) EXPECT_EQ(bars_of(dom, id), bars) << id;
  // Tables, recommendation, failures, machine.
  EXPECT_NE(dom.find("Recommendation"), std::string::npos);
  EXPECT_NE(dom.find("unsupported: load"), std::string::npos);
  EXPECT_NE(dom.find("random weights"), std::string::npos);
  // What ORT fused, beside its rows (the page's own element, not the inlined data).
  EXPECT_NE(dom.find("class=\"note ort-fused\">ORT fused (ort): "), std::string::npos);
  EXPECT_EQ(dom.find("ORT fused (ort): unknown"), std::string::npos);

  // No network request: the page's own resource timing lists nothing it fetched, and Chromium's
  // network log names no remote URL but those of Chromium's own background services (network time,
  // component updates on Google's hosts), which run whatever page is open.
  EXPECT_NE(dom.find("data-resources=\"0\""), std::string::npos);
  const std::string log = testing::read_text(netlog);
  ASSERT_FALSE(log.empty());
  const std::regex remote(R"re("url":"((https?|wss?|ftp)://([^/"]*)[^"]*)")re");
  const std::regex chromium_services(R"(([a-z0-9-]+\.)*(google\.com|googleapis\.com|gvt1\.com|gstatic\.com))");
  for (std::sregex_iterator it(log.begin(), log.end(), remote), end; it != end; ++it) {
    if (!std::regex_match((*it)[3].str(), chromium_services)) ADD_FAILURE() << "request to " << (*it)[1];
  }
}

TEST_F(ReportCli, MarkdownHasTheSameContent) {
  const fs::path md = tmp_->path() / "report.md";
  const auto r = testing::run_cpuinfer({"report", only_json(tmp_->path() / "bert").string(), "--format", "md", "-o", md.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string text = testing::read_text(md);
  EXPECT_NE(text.find("## bert"), std::string::npos);
  EXPECT_NE(text.find("### Recommendation"), std::string::npos);
  EXPECT_NE(text.find("| ort (bucket) |"), std::string::npos) << text;
  EXPECT_NE(text.find("unsupported: load"), std::string::npos);
  EXPECT_NE(text.find("\n- ORT fused (ort): "), std::string::npos) << text;
}

// Each ORT row records the fused node types of ORT's optimized graph, counted by a child process.
TEST_F(ReportCli, OrtRowsRecordWhatOrtFused) {
  const nlohmann::json doc = nlohmann::json::parse(testing::read_text(only_json(tmp_->path() / "resnet")));
  std::size_t ort_rows = 0;
  for (const auto& row : doc["rows"]) {
    if (row["name"] != "ort") continue;
    ++ort_rows;
    const auto& settings = row["settings"];
    ASSERT_TRUE(settings["fused_nodes"].is_object()) << settings.dump();
    EXPECT_EQ(settings["fused_nodes"]["Attention"], 0) << settings.dump();  // a CNN: no attention to fuse
    EXPECT_EQ(settings["fused_nodes"]["SkipLayerNormalization"], 0) << settings.dump();
    EXPECT_GT(settings["optimized_nodes"].get<int>(), 0) << settings.dump();
  }
  EXPECT_EQ(ort_rows, 2u);  // batch sizes 1 and 2
}

TEST_F(ReportCli, TruncatedResultsFileIsOneLineError) {
  const std::string json = testing::read_text(only_json(tmp_->path() / "resnet"));
  const fs::path cut = tmp_->path() / "cut.json";
  testing::write_bytes(cut, {json.begin(), json.begin() + static_cast<std::ptrdiff_t>(json.size() / 2)});
  const auto r = testing::run_cpuinfer({"report", cut.string(), "-o", (tmp_->path() / "x.html").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cpuinfer: error: " + cut.string() + ":"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
}

// A results file as `bench --repeat 2` writes it, made here: libtorch and ort at batch sizes 1 and
// 2, the second pass 10% slower for libtorch.
fs::path write_repeated_run(const fs::path& folder) {
  nlohmann::json doc = {{"workload", {{"name", "resnet101"}, {"dataset", "images"}, {"weights", "random"}}},
                        {"protocol", {{"reference", "libtorch"}, {"threads", 2}, {"repeats", 2}}},
                        {"complete", true},
                        {"rows", nlohmann::json::array()}};
  for (int repeat : {1, 2})
    for (const std::string name : {"libtorch", "ort"})
      for (int batch : {1, 2}) {
        const double seconds = (name == "libtorch" ? 0.1 : 0.08) * (repeat == 2 && name == "libtorch" ? 1.1 : 1.0);
        doc["rows"].push_back({{"name", name}, {"batch_size", batch}, {"repeat", repeat}, {"time_per_input", seconds},
                               {"total_time", seconds * 4}, {"top1_agreement", 1.0}, {"reference", "libtorch"},
                               {"load_ms", 300.0}, {"first_run_ms", 40.0 + repeat}, {"status", "ok"}});
      }
  fs::create_directories(folder);
  const std::string text = doc.dump(2);
  testing::write_bytes(folder / "repeated.json", {text.begin(), text.end()});
  return folder / "repeated.json";
}

// One bar per configuration, the median; the spread over repeats and the cold start in their own tables.
TEST(ReportRepeats, HtmlShowsTheSpreadAndTheColdStart) {
  testing::TempDir tmp;
  const fs::path json = write_repeated_run(tmp.path()), page = tmp.path() / "repeated.html";
  const auto r = testing::run_cpuinfer({"report", json.string(), "-o", page.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto browser = render(page);
  ASSERT_EQ(browser.exit_code, 0) << browser.output;
  const std::string dom = browser.output;
  ASSERT_NE(dom.find("data-charts=\"2\""), std::string::npos) << "not every chart rendered:\n" << dom.substr(0, 2000);
  EXPECT_EQ(dom.find("data-chart-error"), std::string::npos);
  EXPECT_EQ(bars_of(dom, "chart-0-runtime"), 4u);  // 2 backends x 2 batch sizes, not x 2 repeats
  EXPECT_EQ(bars_of(dom, "chart-0-speedup"), 4u);
  EXPECT_NE(dom.find("Across 2 repeats"), std::string::npos);
  EXPECT_NE(dom.find(">2 of 2<"), std::string::npos);
  EXPECT_NE(dom.find(">1.31x (1.25–1.38)<"), std::string::npos) << "ort: 0.1 / 0.08 and 0.11 / 0.08";
  EXPECT_NE(dom.find(">Cold start<"), std::string::npos);
  EXPECT_NE(dom.find(">41.5 (41.0–42.0)<"), std::string::npos) << "first run, median and range";
}

TEST(ReportRepeats, UnknownBaselineIsOneLineError) {
  testing::TempDir tmp;
  const auto r = testing::run_cpuinfer({"report", write_repeated_run(tmp.path()).string(), "--baseline", "nonexist", "-o",
                                        (tmp.path() / "x.html").string()});
  testing::expect_one_error(r, "--baseline nonexist: no such backend in the results (they have libtorch, ort)");
  EXPECT_FALSE(fs::exists(tmp.path() / "x.html"));
}

TEST(ReportFile, EmptyResultsFileSaysItIsEmpty) {
  testing::TempDir tmp;
  const fs::path empty = tmp.path() / "empty.json";
  testing::write_bytes(empty, {});
  const auto r = testing::run_cpuinfer({"report", empty.string(), "-o", (tmp.path() / "x.html").string()});
  testing::expect_one_error(r, "results file " + empty.string() + " is empty");
  EXPECT_EQ(r.output.find("truncated"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace cpuinfer
