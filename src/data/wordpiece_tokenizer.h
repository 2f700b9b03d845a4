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

struct Encoding {
  std::vector<std::int64_t> input_ids;       // [CLS] tokens... [SEP]
  std::vector<std::int64_t> attention_mask;  // all 1: padding is the batcher's business
  std::vector<std::int64_t> token_type_ids;  // all 0: one segment
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
  std::size_t vocab_size() const { return vocab_.size(); }
  std::int64_t pad_id() const { return pad_id_; }

 private:
  std::vector<std::string> basic_tokens(std::string_view text) const;
  void wordpiece(const std::string& word, std::vector<std::string>& out) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, std::int64_t> ids_;
  bool lowercase_;
  std::int64_t unk_id_ = 0, cls_id_ = 0, sep_id_ = 0, pad_id_ = 0;
};

}  // namespace cpuinfer
