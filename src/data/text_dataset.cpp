// Loaders for IMDB-style sentiment data, and review-length synthesis.
#include "data/text_dataset.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace fs = std::filesystem;

namespace cpuinfer {

namespace {

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open {}", file.string());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int sentiment_label(std::string value, const std::string& where) {
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::tolower(c); });
  if (value == "positive" || value == "pos" || value == "1") return 1;
  if (value == "negative" || value == "neg" || value == "0") return 0;
  fail("{}: sentiment '{}' is not positive/negative/1/0", where, value);
}

// RFC 4180 records: quoted fields may hold commas, quotes ("") and newlines.
std::vector<std::vector<std::string>> parse_csv(const std::string& text, const fs::path& file,
                                                std::vector<std::size_t>& record_lines) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, field_started = false;
  std::size_t line = 1, record_line = 1;
  auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  auto end_record = [&] {
    end_field();
    if (!(record.size() == 1 && record[0].empty())) {
      records.push_back(std::move(record));
      record_lines.push_back(record_line);
    }
    record.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"' && !field_started) {
      quoted = field_started = true;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      record_line = ++line;
    } else {
      field += c;
      field_started = true;
    }
  }
  if (quoted) fail("{} line {}: unterminated quoted field", file.string(), record_line);
  if (field_started || !record.empty()) end_record();
  return records;
}

}  // namespace

std::size_t word_count(const std::string& text) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

std::vector<TextSample> load_imdb_folder(const fs::path& folder) {
  fs::path root = folder;
  if (fs::is_directory(root / "test" / "pos")) root = root / "test";
  if (!fs::is_directory(root / "pos") || !fs::is_directory(root / "neg"))
    fail("{} is not an IMDB folder: expected aclImdb/test/{{pos,neg}}/*.txt", folder.string());
  std::vector<TextSample> samples;
  for (const auto& [name, label] : {std::pair{"neg", 0}, std::pair{"pos", 1}}) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(root / name))
      if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) samples.push_back({read_all(f), label, f.string()});
  }
  if (samples.empty()) fail("no reviews (*.txt) in {}/pos or {}/neg", root.string(), root.string());
  return samples;
}

std::vector<TextSample> load_review_csv(const fs::path& file) {
  std::vector<std::size_t> lines;
  std::string text = read_all(file);
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // a UTF-8 byte order mark, as spreadsheets write
  const auto records = parse_csv(text, file, lines);
  if (records.empty()) fail("{} is empty", file.string());
  const auto& header = records[0];
  const auto column = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) fail("{} has no '{}' column (needs review,sentiment)", file.string(), name);
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t review = column("review"), sentiment = column("sentiment");
  std::vector<TextSample> samples;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const std::string where = fmt::format("{} line {}", file.string(), lines[r]);
    if (records[r].size() != header.size())
      fail("{}: {} fields, the header has {}", where, records[r].size(), header.size());
    samples.push_back({records[r][review], sentiment_label(records[r][sentiment], where), where});
  }
  if (samples.empty()) fail("{} has a header but no reviews", file.string());
  return samples;
}

std::vector<TextSample> load_text_json(const fs::path& file) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_all(file));
  } catch (const nlohmann::json::exception& e) {
    fail("malformed JSON in {}: {}", file.string(), e.what());
  }
  if (!j.is_array()) fail("{}: expected a JSON list of {{\"text\", \"class\"}}", file.string());
  std::vector<TextSample> samples;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string where = fmt::format("{} entry {}", file.string(), i);
    const auto& e = j[i];
    if (!e.is_object() || !e.contains("text") || !e["text"].is_string() || !e.contains("class"))
      fail("{}: expected {{\"text\": string, \"class\": 0 or 1}}", where);
    const auto& c = e["class"];
    int label = -1;
    if (c.is_number_integer() && (c.get<std::int64_t>() == 0 || c.get<std::int64_t>() == 1)) label = c.get<int>();
    else if (c.is_string()) label = sentiment_label(c.get<std::string>(), where);
    if (label != 0 && label != 1) fail("{}: class {} is not 0 or 1", where, c.dump());
    samples.push_back({e["text"].get<std::string>(), label, where});
  }
  if (samples.empty()) fail("{} holds no samples", file.string());
  return samples;
}

std::vector<TextSample> load_text_dataset(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return load_imdb_folder(path);
  if (!fs::is_regular_file(path, ec)) fail("data not found: {}", path.string());
  const std::string ext = path.extension().string();
  if (ext == ".csv") return load_review_csv(path);
  if (ext == ".json") return load_text_json(path);
  fail("cannot tell the format of {}: expected an IMDB folder, a .csv or a .json", path.string());
}

std::vector<TextSample> synthesize_review_lengths(const std::vector<TextSample>& sentences, std::size_t count,
                                                  std::uint64_t seed) {
  std::vector<const TextSample*> by_class[2];
  for (const auto& s : sentences)
    if ((s.label == 0 || s.label == 1) && word_count(s.text) > 0) by_class[s.label].push_back(&s);
  if (by_class[0].empty() || by_class[1].empty())
    fail("review-length texts need sentences of both classes");
  // Log-normal word counts: median exp(mu) = 174, mean exp(mu + sigma^2 / 2) = 230.
  const double mu = std::log(174.0);
  const double sigma = std::sqrt(2.0 * std::log(230.0 / 174.0));
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> words(mu, sigma);
  std::vector<TextSample> texts;
  for (std::size_t i = 0; i < count; ++i) {
    const int label = static_cast<int>(i % 2);
    const std::size_t target = std::max<std::size_t>(1, static_cast<std::size_t>(words(rng)));
    TextSample t{"", label, fmt::format("review-length text {} ({} words drawn)", i, target)};
    std::size_t have = 0;
    while (have < target) {
      const TextSample& s = *by_class[label][rng() % by_class[label].size()];
      t.text += (t.text.empty() ? "" : " ") + s.text;
      have += word_count(s.text);
    }
    texts.push_back(std::move(t));
  }
  return texts;
}

}  // namespace cpuinfer
