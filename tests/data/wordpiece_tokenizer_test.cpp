// WordPiece tokenizer: golden ids from an independent implementation (npm bert-tokenizer@1.1.8,
// run with node by tests/tools/make_tokenizer_golden.js on tests/data/tokenizer/sentences.json).
// Where that implementation departs from BERT's reference tokenizer (Hugging Face BertTokenizer,
// bert-base-uncased), the departure is listed below with its cause, and our output is checked
// against BERT's rules instead.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

#include "core/error.h"
#include "data/wordpiece_tokenizer.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

const WordPieceTokenizer& tokenizer() {
  static const WordPieceTokenizer t =
      WordPieceTokenizer::from_file(testing::cache_dir() / "data" / "text" / "vocab.txt");
  return t;
}

std::string joined(const std::vector<std::string>& pieces) {
  std::string s;
  for (const auto& p : pieces) s += (s.empty() ? "" : " ") + p;
  return s;
}

struct Departure {
  const char* cause;
  const char* bert_pieces;  // what BERT's rules give, space-separated
};

// Texts on which npm bert-tokenizer differs from BERT, and why.
const std::map<std::string, Departure>& departures() {
  static const std::map<std::string, Departure> kDepartures = {
      {"Café au lait, naïve résumé",
       {"it strips accents with String.replace, which removes only the first occurrence of each mark: "
        "résumé keeps its accents and becomes [UNK]",
        "cafe au lai ##t , naive resume"}},
      {"Ελληνικά κείμενα", {"same first-occurrence accent stripping: κείμενα keeps its tonos", "ε ##λ ##λ ##η ##ν ##ι ##κ ##α κ ##ε ##ι ##μ ##ε ##ν ##α"}},
      {"Ümlaut Über", {"same first-occurrence accent stripping: Über keeps its diaeresis", "um ##lau ##t uber"}},
      {std::string(120, 'a'), {"it has no 100-character limit; BERT makes longer words [UNK]", "[UNK]"}},
      {"你好，世界",
       {"it does not put spaces around CJK ideographs; BERT makes each its own word ([UNK] unless in the "
        "vocabulary, as 世 is)",
        "[UNK] [UNK] ， 世 [UNK]"}},
      {"", {"it splits on single spaces, so an empty text is one empty word, [UNK]; BERT gives no tokens", ""}},
      {"   ", {"single-space splitting: empty words become [UNK]", ""}},
      {"Tabs\tand\nnewlines\r\nhere", {"single-space splitting: \\r\\n becomes two spaces and an [UNK]",
                                       "tab ##s and new ##lines here"}},
      {"This is a sentence with multiple    spaces", {"single-space splitting: [UNK] between the spaces",
                                                     "this is a sentence with multiple spaces"}},
      {"$100 & 50% off #deal",
       {"its punctuation table lacks $, and BERT treats all ASCII symbols as punctuation", "$ 100 & 50 % off # deal"}},
      {"Wasn't worth the $12 ticket... :(", {"its punctuation table lacks $", "wasn ' t worth the $ 12 ticket . . . : ("}},
      {"<br /><br />This movie was a waste of time.",
       {"its punctuation table lacks < and >, ASCII symbols that BERT splits off",
        "< br / > < br / > this movie was a waste of time ."}},
      {"\"Inception\" (2010) is a mind-bending thriller.",
       {"it inserts a space before punctuation at the very start of a text, making an empty first word, [UNK]",
        "\" inception \" ( 2010 ) is a mind - bending thriller ."}},
      {"zero\u200bwidth", {"it keeps U+200B (format, Cf), which BERT removes as a control character", "zero ##wi ##dt ##h"}},
      {"\ufb01ne ligature", {"it applies NFKC (ﬁ -> fi); BERT only lower-cases and applies NFD, which keeps ﬁ",
                             "ﬁ ##ne liga ##ture"}},
      {"½ ¾ ² ³", {"NFKC again: ½ -> 1⁄2; BERT keeps ½, which is in the vocabulary", "½ ¾ ² ³"}},
  };
  return kDepartures;
}

TEST(WordPieceTokenizer, AgreesWithTheIndependentImplementation) {
  const auto golden = nlohmann::json::parse(
      testing::read_text(testing::cache_dir() / "data" / "fixtures" / "tokenizer" / "golden.json"))["golden"];
  std::size_t agreed = 0, departed = 0;
  for (const auto& g : golden) {
    const std::string text = g["text"];
    const auto pieces = tokenizer().tokenize(text);
    std::vector<std::int64_t> ours;
    for (const auto& p : pieces) ours.push_back(tokenizer().id(p));
    const auto theirs = g["ids"].get<std::vector<std::int64_t>>();
    const auto departure = departures().find(text);
    if (departure == departures().end()) {
      EXPECT_EQ(ours, theirs) << "text: " << text << "\nours: " << joined(pieces);
      ++agreed;
    } else {
      // The departure is still there (else it should leave the list), and we follow BERT.
      EXPECT_NE(ours, theirs) << "npm tokenizer now agrees on: " << text;
      EXPECT_EQ(joined(pieces), departure->second.bert_pieces) << text << " (" << departure->second.cause << ")";
      ++departed;
    }
  }
  EXPECT_GE(agreed, 30u);
  EXPECT_EQ(departed, departures().size());
}

TEST(WordPieceTokenizer, EncodeAddsSpecialTokensAndTruncates) {
  const Encoding e = tokenizer().encode("the movie was great", 512);
  EXPECT_EQ(e.input_ids, (std::vector<std::int64_t>{101, 1996, 3185, 2001, 2307, 102}));
  EXPECT_FALSE(e.truncated);
  const Encoding t = tokenizer().encode("the movie was great", 4);
  EXPECT_EQ(t.input_ids, (std::vector<std::int64_t>{101, 1996, 3185, 102}));
  EXPECT_TRUE(t.truncated);
  EXPECT_EQ(tokenizer().encode("", 8).input_ids, (std::vector<std::int64_t>{101, 102}));
  EXPECT_THROW(tokenizer().encode("x", 1), Error);
}

TEST(WordPieceTokenizer, InvalidUtf8IsAnError) {
  for (const std::string& bad : {std::string("abc\xff"), std::string("\xc3"), std::string("a\xed\xa0\x80z")}) {
    try {
      tokenizer().tokenize(bad);
      FAIL() << "accepted invalid UTF-8";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("invalid UTF-8"), std::string::npos);
    }
  }
}

TEST(WordPieceTokenizer, ReadsTokenizerJson) {
  testing::TempDir tmp;
  const nlohmann::json j = {
      {"model", {{"type", "WordPiece"}, {"vocab", {{"[PAD]", 0}, {"[UNK]", 1}, {"[CLS]", 2}, {"[SEP]", 3}, {"hello", 4}, {"##s", 5}}}}},
      {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", true}}}};
  const std::string text = j.dump();
  testing::write_bytes(tmp.path() / "tokenizer.json", {text.begin(), text.end()});
  const auto t = WordPieceTokenizer::from_file(tmp.path() / "tokenizer.json");
  EXPECT_EQ(t.encode("Hellos world").input_ids, (std::vector<std::int64_t>{2, 4, 5, 1, 3}));
}

TEST(WordPieceTokenizer, BadVocabularies) {
  testing::TempDir tmp;
  EXPECT_THROW(WordPieceTokenizer::from_file(tmp.path() / "missing.txt"), Error);
  testing::write_bytes(tmp.path() / "vocab.txt", {'a', '\n', 'b', '\n'});
  try {
    WordPieceTokenizer::from_file(tmp.path() / "vocab.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[UNK]"), std::string::npos);
  }
  testing::write_bytes(tmp.path() / "tokenizer.json", {'{', '"'});
  EXPECT_THROW(WordPieceTokenizer::from_file(tmp.path() / "tokenizer.json"), Error);
}

}  // namespace
}  // namespace cpuinfer
