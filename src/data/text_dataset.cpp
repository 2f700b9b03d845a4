// Loaders for IMDB-style sentiment data (each checked as it loads: UTF-8, CSV quoting), and
// review-length synthesis.
#include "data/text_dataset.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>
#include <utf8proc.h>

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

// A value from the file as it may appear in a one-line message: control bytes escaped, long
// values cut.
std::string printable(std::string_view value) {
  constexpr std::size_t kMax = 40;
  std::string out;
  for (std::size_t i = 0; i < value.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  if (value.size() > kMax) {
    // Cut at a character boundary, so the message stays UTF-8.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    out += "...";
  }
  return out;
}

// Line of byte `offset` (1-based); a line ends at \n, \r\n or a lone \r, as in the CSV parser.
std::size_t line_of(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i)
    if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n'))) ++line;
  return line;
}

// Every text is checked when the data set loads, not when a run samples it: a bad byte in the
// 20,000th review fails at once, naming its line. Valid means what the tokenizer accepts
// (utf8proc: no overlong forms, no surrogates).
void check_utf8(std::string_view text, const std::string& name) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  for (std::size_t pos = 0; pos < text.size();) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p + pos, static_cast<utf8proc_ssize_t>(text.size() - pos), &cp);
    if (n <= 0) {
      const std::size_t line = line_of(text, pos);
      const std::size_t newline = text.find_last_of("\r\n", pos);
      const std::size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
      fail("{} line {}: invalid UTF-8 (byte 0x{:02x}, byte {} of the line); texts must be UTF-8 (convert a Latin-1 "
           "file with iconv -f latin1 -t utf-8)",
           name, line, static_cast<unsigned char>(text[pos]), pos - line_start + 1);
    }
    pos += static_cast<std::size_t>(n);
  }
}

int sentiment_label(std::string value, const std::string& where) {
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::tolower(c); });
  if (value == "positive" || value == "pos" || value == "1") return 1;
  if (value == "negative" || value == "neg" || value == "0") return 0;
  fail("{}: sentiment '{}' is not positive/negative/1/0", where, printable(value));
}

// RFC 4180 records: quoted fields may hold commas, quotes ("") and newlines. Strict where leniency
// would hide a broken file: after a quoted field's closing quote only a comma or the end of the
// line may follow, and a quoted field must close. A stray quote opening a field otherwise runs on,
// silently, into the following records until the next quote.
std::vector<std::vector<std::string>> parse_csv(std::string_view text, const std::string& name,
                                                std::vector<std::size_t>& record_lines) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, field_started = false, closed = false;
  std::size_t line = 1, record_line = 1, quote_line = 1;
  auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
    field_started = closed = false;
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
        closed = true;
      } else {
        if (c == '\n' || (c == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n'))) ++line;
        field += c;
      }
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      record_line = ++line;
    } else if (closed) {
      if (quote_line == line)
        fail("{} line {}: text after the closing quote of a field (a stray quote? quotes inside a field are "
             "doubled: \"\")",
             name, line);
      fail("{} line {}: a quoted field opens here and runs to line {}, where text follows its closing quote: a "
           "stray quote? (quotes inside a field are doubled: \"\")",
           name, quote_line, line);
    } else if (c == '"' && !field_started) {
      quoted = field_started = true;
      quote_line = line;
    } else {
      field += c;
      field_started = true;
    }
  }
  if (quoted)
    fail("{} line {}: unterminated quoted field: the quote that opens it never closes (a stray quote?)", name,
         quote_line);
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
    for (const auto& f : files) {
      std::string text = read_all(f);
      check_utf8(text, f.string());
      samples.push_back({std::move(text), label, f.string()});
    }
  }
  if (samples.empty()) fail("no reviews (*.txt) in {}/pos or {}/neg", root.string(), root.string());
  return samples;
}

std::vector<TextSample> load_review_csv(const fs::path& file) { return parse_review_csv(read_all(file), file.string()); }

std::vector<TextSample> parse_review_csv(std::string_view text, const std::string& name) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte order mark, as spreadsheets write
  check_utf8(text, name);
  std::vector<std::size_t> lines;
  const auto records = parse_csv(text, name, lines);
  if (records.empty()) fail("{} is empty", name);
  const auto& header = records[0];
  const auto column = [&](const std::string& column_name) {
    const auto it = std::find(header.begin(), header.end(), column_name);
    if (it == header.end()) fail("{} has no '{}' column (needs review,sentiment)", name, column_name);
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t review = column("review"), sentiment = column("sentiment");
  std::vector<TextSample> samples;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const std::string where = fmt::format("{} line {}", name, lines[r]);
    if (records[r].size() != header.size())
      fail("{}: {} fields, the header has {}", where, records[r].size(), header.size());
    samples.push_back({records[r][review], sentiment_label(records[r][sentiment], where), where});
  }
  if (samples.empty()) fail("{} has a header but no reviews", name);
  return samples;
}

std::vector<TextSample> load_text_json(const fs::path& file) { return parse_text_json(read_all(file), file.string()); }

std::vector<TextSample> parse_text_json(std::string_view text, const std::string& name) {
  check_utf8(text, name);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    fail("malformed JSON in {}: {}", name, e.what());
  }
  if (!j.is_array()) fail("{}: expected a JSON list of {{\"text\", \"class\"}}", name);
  std::vector<TextSample> samples;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string where = fmt::format("{} entry {}", name, i);
    const auto& e = j[i];
    if (!e.is_object() || !e.contains("text") || !e["text"].is_string() || !e.contains("class"))
      fail("{}: expected {{\"text\": string, \"class\": 0 or 1}}", where);
    const auto& c = e["class"];
    int label = -1;
    if (c.is_number_integer() && (c.get<std::int64_t>() == 0 || c.get<std::int64_t>() == 1)) label = c.get<int>();
    else if (c.is_string()) label = sentiment_label(c.get<std::string>(), where);
    // An array or object is named, not printed: dump() recurses, as deep as the file nests.
    if (label != 0 && label != 1)
      fail("{}: class {} is not 0 or 1", where,
           c.is_structured() ? fmt::format("(an {})", c.type_name()) : printable(c.dump()));
    samples.push_back({e["text"].get<std::string>(), label, where});
  }
  if (samples.empty()) fail("{} holds no samples", name);
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
