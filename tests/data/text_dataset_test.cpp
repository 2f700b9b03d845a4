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
  write_text(tmp.path() / "c.csv", "review,sentiment\nok,1\n\"never closed,positive\n");
  EXPECT_NE(error_of(tmp.path() / "c.csv").find("c.csv line 3: unterminated quoted field"), std::string::npos)
      << error_of(tmp.path() / "c.csv");
  write_text(tmp.path() / "d.csv", "review,sentiment\nx,positive,extra\n");
  EXPECT_NE(error_of(tmp.path() / "d.csv").find("3 fields"), std::string::npos);
}

TEST(TextDataset, CsvStrayQuoteIsAnErrorNotAMergedText) {
  testing::TempDir tmp;
  // The opening quote of line 3 has no partner: RFC 4180 would run lines 3 to 5 into one review,
  // labelled by line 5, closing at the quote before "meh".
  write_text(tmp.path() / "merge.csv",
             "review,sentiment\nFine.,positive\n\"Wow, what a film,positive\nBoring,negative\nHe said \"meh\",negative\n");
  const std::string merge = error_of(tmp.path() / "merge.csv");
  EXPECT_NE(merge.find("merge.csv line 3: a quoted field opens here and runs to line 5"), std::string::npos) << merge;
  EXPECT_NE(merge.find("stray quote"), std::string::npos) << merge;
  // Text after a closing quote on its own line (lenient parsers drop the quotes silently).
  write_text(tmp.path() / "after.csv", "review,sentiment\n\"Wow\" was all I said,positive\n");
  EXPECT_NE(error_of(tmp.path() / "after.csv").find("after.csv line 2: text after the closing quote"), std::string::npos)
      << error_of(tmp.path() / "after.csv");
  // Quotes inside an unquoted field are the text's own, and a quoted field may end a line.
  write_text(tmp.path() / "fine.csv", "review,sentiment\nA 5\" screen,positive\n\"ok\"\r\n");
  EXPECT_NE(error_of(tmp.path() / "fine.csv").find("fine.csv line 3: 1 fields"), std::string::npos)
      << error_of(tmp.path() / "fine.csv");
  const auto samples = parse_review_csv("review,sentiment\nA 5\" screen,positive\n\"ok\",0\r\n", "memory.csv");
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].text, "A 5\" screen");
  EXPECT_EQ(samples[1].text, "ok");
  EXPECT_EQ(samples[1].origin, "memory.csv line 3");
}

TEST(TextDataset, EveryTextIsCheckedAsUtf8AtLoad) {
  testing::TempDir tmp;
  // One Latin-1 byte in the 25th of 30 reviews: the load fails, naming its line, though a run
  // sampling a few reviews might never have met it.
  std::string csv = "review,sentiment\n";
  for (int i = 1; i <= 30; ++i) csv += (i == 25 ? std::string("caf\xe9 ok") : "review " + std::to_string(i)) + ",positive\n";
  write_text(tmp.path() / "latin1.csv", csv);
  const std::string csv_error = error_of(tmp.path() / "latin1.csv");
  EXPECT_NE(csv_error.find("latin1.csv line 26: invalid UTF-8 (byte 0xe9, byte 4 of the line)"), std::string::npos)
      << csv_error;
  // Overlong forms and surrogates are invalid too; valid multi-byte text is not.
  write_text(tmp.path() / "t.json", "[{\"text\": \"caf\xc3\xa9 \xe4\xb8\x96\", \"class\": 1},\n {\"text\": \"\xed\xa0\x80\", \"class\": 0}]");
  const std::string json_error = error_of(tmp.path() / "t.json");
  EXPECT_NE(json_error.find("t.json line 2: invalid UTF-8 (byte 0xed"), std::string::npos) << json_error;
  write_text(tmp.path() / "o.csv", "review,sentiment\n\xc0\xaf,1\n");
  EXPECT_NE(error_of(tmp.path() / "o.csv").find("o.csv line 2: invalid UTF-8"), std::string::npos);
  write_text(tmp.path() / "aclImdb/test/pos/0_9.txt", "Great.");
  write_text(tmp.path() / "aclImdb/test/neg/1_2.txt", "Dull.\nReally \xff dull.");
  const std::string imdb_error = error_of(tmp.path() / "aclImdb");
  EXPECT_NE(imdb_error.find("1_2.txt line 2: invalid UTF-8 (byte 0xff, byte 8 of the line)"), std::string::npos)
      << imdb_error;
  EXPECT_EQ(parse_text_json("[{\"text\": \"caf\xc3\xa9 \xe4\xb8\x96\", \"class\": 1}]", "m.json")[0].text,
            "caf\xc3\xa9 \xe4\xb8\x96");
}

TEST(TextDataset, ValuesInErrorsAreOneLine) {
  const auto error = [](auto parse, const std::string& text) {
    try {
      parse(text, "m");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string csv = error(parse_review_csv, "review,sentiment\nx,\"so\nso\"\n");
  EXPECT_NE(csv.find("sentiment 'so\\x0aso' is not"), std::string::npos) << csv;
  const std::string json = error(parse_text_json, "[{\"text\": \"x\", \"class\": \"" + std::string(100, 'a') + "\"}]");
  EXPECT_NE(json.find("sentiment 'aaaa"), std::string::npos) << json;
  EXPECT_LT(json.size(), 150u) << json;
  // A class nested a million deep is named, not printed (printing recursed as deep as the nesting).
  const std::string deep = error(parse_text_json, "[{\"text\": \"x\", \"class\": " + std::string(1'000'000, '[') +
                                                      std::string(1'000'000, ']') + "}]");
  EXPECT_NE(deep.find("m entry 0: class (an array) is not 0 or 1"), std::string::npos) << deep.substr(0, 200);
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
