// Text data sets: the three layouts, their errors, and review-length synthesis.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "data/text_dataset.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

void write_text(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  testing::write_bytes(file, {text.begin(), text.end()});
}

std::string error_of(const fs::path& path) {
  try {
    load_text_dataset(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TextDataset, ImdbArchiveLayout) {
  testing::TempDir tmp;
  write_text(tmp.path() / "aclImdb/test/pos/0_9.txt", "Great film.<br />Loved it.");
  write_text(tmp.path() / "aclImdb/test/neg/1_2.txt", "Dull.");
  write_text(tmp.path() / "aclImdb/test/neg/urls.url", "not a review");
  for (const fs::path& root : {tmp.path() / "aclImdb", tmp.path() / "aclImdb/test"}) {
    const auto samples = load_text_dataset(root);
    ASSERT_EQ(samples.size(), 2u);
    EXPECT_EQ(samples[0].label, 0);
    EXPECT_EQ(samples[0].text, "Dull.");
    EXPECT_EQ(samples[1].label, 1);
    EXPECT_NE(samples[1].origin.find("0_9.txt"), std::string::npos);
  }
  fs::create_directories(tmp.path() / "other");
  EXPECT_NE(error_of(tmp.path() / "other").find("not an IMDB folder"), std::string::npos);
}

TEST(TextDataset, CsvWithQuotedFields) {
  testing::TempDir tmp;
  write_text(tmp.path() / "r.csv",
             "review,sentiment\r\n\"Good, \"\"really\"\" good\nsecond line\",positive\nBad.,negative\n\"x\",1\n");
  const auto samples = load_text_dataset(tmp.path() / "r.csv");
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].text, "Good, \"really\" good\nsecond line");
  EXPECT_EQ(samples[0].label, 1);
  EXPECT_EQ(samples[1].label, 0);
  EXPECT_EQ(samples[2].label, 1);
  EXPECT_NE(samples[1].origin.find("line 4"), std::string::npos) << samples[1].origin;
}

TEST(TextDataset, CsvErrorsNameFileAndLine) {
  testing::TempDir tmp;
  write_text(tmp.path() / "a.csv", "text,label\nx,1\n");
  EXPECT_NE(error_of(tmp.path() / "a.csv").find("no 'review' column"), std::string::npos);
  write_text(tmp.path() / "b.csv", "review,sentiment\nok,positive\nbad,maybe\n");
  EXPECT_NE(error_of(tmp.path() / "b.csv").find("b.csv line 3"), std::string::npos);
  write_text(tmp.path() / "c.csv", "review,sentiment\n\"never closed,positive\n");
  EXPECT_NE(error_of(tmp.path() / "c.csv").find("unterminated"), std::string::npos);
  write_text(tmp.path() / "d.csv", "review,sentiment\nx,positive,extra\n");
  EXPECT_NE(error_of(tmp.path() / "d.csv").find("3 fields"), std::string::npos);
}

TEST(TextDataset, JsonList) {
  testing::TempDir tmp;
  write_text(tmp.path() / "t.json", R"([{"text": "fine", "class": 1}, {"text": "meh", "class": "negative"}])");
  const auto samples = load_text_dataset(tmp.path() / "t.json");
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[1].label, 0);
  write_text(tmp.path() / "bad.json", R"([{"text": "fine", "class": 1}, {"text": "", "class": null}])");
  EXPECT_NE(error_of(tmp.path() / "bad.json").find("entry 1"), std::string::npos);
  write_text(tmp.path() / "broken.json", R"([{"text": )");
  EXPECT_NE(error_of(tmp.path() / "broken.json").find("malformed JSON"), std::string::npos);
  EXPECT_NE(error_of(tmp.path() / "none.json").find("not found"), std::string::npos);
  write_text(tmp.path() / "x.txt", "hello");
  EXPECT_NE(error_of(tmp.path() / "x.txt").find("cannot tell the format"), std::string::npos);
}

TEST(TextDataset, ReviewLengthsFollowImdbStatistics) {
  std::vector<TextSample> sentences;
  for (int i = 0; i < 40; ++i)
    sentences.push_back({"word " + std::string(static_cast<std::size_t>(i % 7), 'x') + " more words here", i % 2, ""});
  const auto texts = synthesize_review_lengths(sentences, 4000, 11);
  ASSERT_EQ(texts.size(), 4000u);
  std::vector<double> words;
  double sum = 0;
  std::size_t long_ones = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(texts[i].label, static_cast<int>(i % 2));
    words.push_back(static_cast<double>(word_count(texts[i].text)));
    sum += words.back();
    long_ones += words.back() > 400;
  }
  std::sort(words.begin(), words.end());
  // Targets: median 174, mean 230 words; each text overshoots its target by under one sentence (4 words).
  EXPECT_NEAR(words[words.size() / 2], 176, 12);
  EXPECT_NEAR(sum / static_cast<double>(words.size()), 232, 15);
  EXPECT_GT(long_ones, texts.size() / 20);  // a long tail past BERT's 512 tokens
  EXPECT_EQ(synthesize_review_lengths(sentences, 10, 11)[3].text, texts[3].text);  // seeded
}

}  // namespace
}  // namespace cpuinfer
