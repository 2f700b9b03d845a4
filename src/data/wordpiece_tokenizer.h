// BERT's WordPiece tokenizer (bert-base-uncased behaviour of Hugging Face's BertTokenizer):
// clean the text (drop NUL, U+FFFD and control characters, map whitespace to spaces), put spaces
// around CJK ideographs, split on whitespace, lower-case, strip accents after Unicode NFD,
// split off punctuation, then greedy longest-match WordPiece with "##" continuations ([UNK] for a
// word with no match or over 100 characters). Unicode data comes from utf8proc.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cpuinfer {

// One text's ids; its attention mask is all ones and its token types all zero (one segment), so
// the batcher, which pads, makes those.
struct Encoding {
  std::vector<std::int64_t> input_ids;  // [CLS] tokens... [SEP]
  bool truncated = false;
};

class WordPieceTokenizer {
 public:
  // Reads a vocab.txt (one token a line, id = line number) or a Hugging Face tokenizer.json
  // (WordPiece model). Throws cpuinfer::Error naming the file if it is unusable.
  static WordPieceTokenizer from_file(const std::filesystem::path& file, bool lowercase = true);
  WordPieceTokenizer(std::vector<std::string> vocab, bool lowercase);

  // The word pieces of `text` (no special tokens). Throws cpuinfer::Error on invalid UTF-8.
  std::vector<std::string> tokenize(std::string_view text) const;
  // [CLS] + pieces + [SEP], truncated to max_length tokens in all.
  Encoding encode(std::string_view text, std::size_t max_length = 512) const;

  std::int64_t id(const std::string& token) const;  // [UNK]'s id if absent
  std::int64_t pad_id() const { return pad_id_; }

 private:
  std::vector<std::string> basic_tokens(std::string_view text) const;
  void wordpiece(const std::string& word, std::vector<std::string>& out) const;

  std::unordered_map<std::string, std::int64_t> ids_;
  bool lowercase_;
  std::int64_t unk_id_ = 0, cls_id_ = 0, sep_id_ = 0, pad_id_ = 0;
};

}  // namespace cpuinfer
