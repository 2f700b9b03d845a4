// Labelled text data sets for sentiment classification: the IMDB archive layout
// (aclImdb/test/{pos,neg}/*.txt), a CSV with review,sentiment columns, or a JSON list of
// {"text", "class"}. Each sample remembers where it came from, so errors can name it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cpuinfer {

struct TextSample {
  std::string text;
  int label = -1;      // 0 negative, 1 positive
  std::string origin;  // "aclImdb/test/pos/0_10.txt", "reviews.csv line 12", "data.json entry 3"
};

// Chooses the loader from what `path` is: a folder (IMDB layout: the archive root, its test/ folder,
// or any folder with pos/ and neg/), a .csv or a .json file. Throws cpuinfer::Error naming the file
// and place of the first problem.
std::vector<TextSample> load_text_dataset(const std::filesystem::path& path);

std::vector<TextSample> load_imdb_folder(const std::filesystem::path& folder);
std::vector<TextSample> load_review_csv(const std::filesystem::path& file);
std::vector<TextSample> load_text_json(const std::filesystem::path& file);

// Review-length texts from short labelled sentences: each text takes one class and concatenates
// random sentences of that class until it reaches a word count drawn from a log-normal with the
// word-count median (174) and mean (230) of full IMDB reviews, so about one in eight passes BERT's
// 512 tokens. Classes alternate; everything is drawn from `seed`.
std::vector<TextSample> synthesize_review_lengths(const std::vector<TextSample>& sentences, std::size_t count,
                                                  std::uint64_t seed);

std::size_t word_count(const std::string& text);

}  // namespace cpuinfer
