// Labelled text data sets for sentiment classification: the IMDB archive layout
// (aclImdb/test/{pos,neg}/*.txt), a CSV with review,sentiment columns, or a JSON list of
// {"text", "class"}. Each sample remembers where it came from, so errors can name it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace cpuinfer {

struct TextSample {
  std::string text;
  int label = -1;      // 0 negative, 1 positive
  std::string origin;  // "aclImdb/test/pos/0_10.txt", "reviews.csv line 12", "data.json entry 3"
};

// Chooses the loader from what `path` is: a folder (IMDB layout: the archive root, its test/ folder,
// or any folder with pos/ and neg/), a .csv or a .json file. Every text is checked to be UTF-8 as it
// loads. Throws cpuinfer::Error naming the file and place (line, entry) of the first problem.
std::vector<TextSample> load_text_dataset(const std::filesystem::path& path);

std::vector<TextSample> load_imdb_folder(const std::filesystem::path& folder);
std::vector<TextSample> load_review_csv(const std::filesystem::path& file);
std::vector<TextSample> load_text_json(const std::filesystem::path& file);

// The CSV and JSON loaders on a file's contents already in memory; `name` names them in errors and
// origins. load_review_csv and load_text_json read the file and call these.
// CSV: RFC 4180 (quoted fields may hold commas, doubled quotes and newlines), strictly: a quoted
// field must be followed by a comma or the end of its line, so a stray quote, which would silently
// run two reviews into one, is an error naming its line.
std::vector<TextSample> parse_review_csv(std::string_view text, const std::string& name);
std::vector<TextSample> parse_text_json(std::string_view text, const std::string& name);

// Review-length texts from short labelled sentences: each text takes one class and concatenates
// random sentences of that class until it reaches a word count drawn from a log-normal with the
// word-count median (174) and mean (230) of full IMDB reviews, so about one in eight passes BERT's
// 512 tokens. Classes alternate; everything is drawn from `seed`.
std::vector<TextSample> synthesize_review_lengths(const std::vector<TextSample>& sentences, std::size_t count,
                                                  std::uint64_t seed);

std::size_t word_count(const std::string& text);

}  // namespace cpuinfer
