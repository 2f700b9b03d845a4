// WordPiece tokenizer; the Unicode steps follow Hugging Face's BasicTokenizer.
#include "data/wordpiece_tokenizer.h"

#include <utf8proc.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace cpuinfer {

namespace {

constexpr std::size_t kMaxCharsPerWord = 100;

std::vector<utf8proc_int32_t> decode_utf8(std::string_view text) {
  std::vector<utf8proc_int32_t> cps;
  cps.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  std::size_t pos = 0;
  while (pos < text.size()) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p + pos, static_cast<utf8proc_ssize_t>(text.size() - pos), &cp);
    if (n <= 0) fail("invalid UTF-8 at byte {}", pos);
    cps.push_back(cp);
    pos += static_cast<std::size_t>(n);
  }
  return cps;
}

void append_utf8(std::string& out, utf8proc_int32_t cp) {
  utf8proc_uint8_t buffer[4];
  const auto n = utf8proc_encode_char(cp, buffer);
  out.append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(n));
}

// Zs as in BERT's _is_whitespace; Zl and Zp because Python's str.split(), which BERT splits words
// with after cleaning, splits on them too.
bool is_whitespace(utf8proc_int32_t cp) {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
  const auto category = utf8proc_category(cp);
  return category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL || category == UTF8PROC_CATEGORY_ZP;
}

bool is_control(utf8proc_int32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS: return true;
    default: return false;
  }
}

bool is_punctuation(utf8proc_int32_t cp) {
  // ASCII symbols count as punctuation (as in BERT), whatever their Unicode category.
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: return true;
    default: return false;
  }
}

bool is_cjk(utf8proc_int32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Lower-case, then NFD and drop combining marks (Mn): "Café" -> "cafe".
std::vector<utf8proc_int32_t> normalise_word(const std::vector<utf8proc_int32_t>& word, bool lowercase) {
  if (!lowercase) return word;
  std::vector<utf8proc_int32_t> out;
  for (utf8proc_int32_t cp : word) {
    utf8proc_int32_t decomposed[16];
    int last_boundclass = 0;
    const utf8proc_ssize_t n = utf8proc_decompose_char(utf8proc_tolower(cp), decomposed, 16,
                                                       UTF8PROC_DECOMPOSE, &last_boundclass);
    if (n < 0 || n > 16) {
      out.push_back(utf8proc_tolower(cp));
      continue;
    }
    for (utf8proc_ssize_t i = 0; i < n; ++i)
      if (utf8proc_category(decomposed[i]) != UTF8PROC_CATEGORY_MN) out.push_back(decomposed[i]);
  }
  return out;
}

std::vector<std::string> read_vocab_txt(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open tokenizer vocabulary {}", file.string());
  std::vector<std::string> vocab;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab.push_back(std::move(line));
  }
  return vocab;
}

std::vector<std::string> read_tokenizer_json(const std::filesystem::path& file, bool& lowercase) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open tokenizer {}", file.string());
  try {
    const auto j = nlohmann::json::parse(in);
    const auto& model = j.at("model");
    if (model.value("type", "") != "WordPiece")
      fail("tokenizer {} has a {} model, not WordPiece", file.string(), model.value("type", "unknown"));
    const auto& map = model.at("vocab");
    std::vector<std::string> vocab(map.size());
    for (const auto& [token, id] : map.items()) {
      const auto i = id.get<std::int64_t>();
      if (i < 0 || static_cast<std::size_t>(i) >= vocab.size())
        fail("tokenizer {}: token id {} out of range", file.string(), i);
      vocab[static_cast<std::size_t>(i)] = token;
    }
    if (j.contains("normalizer") && j["normalizer"].is_object())
      lowercase = j["normalizer"].value("lowercase", lowercase);
    return vocab;
  } catch (const nlohmann::json::exception& e) {
    fail("malformed tokenizer {}: {}", file.string(), e.what());
  }
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::from_file(const std::filesystem::path& file, bool lowercase) {
  auto vocab = file.extension() == ".json" ? read_tokenizer_json(file, lowercase) : read_vocab_txt(file);
  try {
    return WordPieceTokenizer(std::move(vocab), lowercase);
  } catch (const Error& e) {
    fail("{}: {}", file.string(), e.what());
  }
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, bool lowercase)
    : lowercase_(lowercase) {
  for (std::size_t i = 0; i < vocab.size(); ++i) ids_.emplace(std::move(vocab[i]), static_cast<std::int64_t>(i));
  auto special = [&](const char* token) {
    auto it = ids_.find(token);
    if (it == ids_.end()) fail("tokenizer vocabulary has no {} token", token);
    return it->second;
  };
  unk_id_ = special("[UNK]");
  cls_id_ = special("[CLS]");
  sep_id_ = special("[SEP]");
  pad_id_ = special("[PAD]");
}

std::int64_t WordPieceTokenizer::id(const std::string& token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? unk_id_ : it->second;
}

std::vector<std::string> WordPieceTokenizer::basic_tokens(std::string_view text) const {
  // Clean, isolate CJK ideographs, and split on whitespace into words.
  std::vector<std::vector<utf8proc_int32_t>> words(1);
  auto end_word = [&] {
    if (!words.back().empty()) words.emplace_back();
  };
  for (utf8proc_int32_t cp : decode_utf8(text)) {
    if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
    if (is_whitespace(cp)) {
      end_word();
    } else if (is_cjk(cp)) {
      end_word();
      words.back().push_back(cp);
      end_word();
    } else {
      words.back().push_back(cp);
    }
  }
  // Normalise each word and split punctuation off into tokens of their own.
  std::vector<std::string> tokens;
  for (const auto& word : words) {
    std::string current;
    for (utf8proc_int32_t cp : normalise_word(word, lowercase_)) {
      if (is_punctuation(cp)) {
        if (!current.empty()) tokens.push_back(std::move(current));
        current.clear();
        tokens.emplace_back();
        append_utf8(tokens.back(), cp);
      } else {
        append_utf8(current, cp);
      }
    }
    if (!current.empty()) tokens.push_back(std::move(current));
  }
  return tokens;
}

void WordPieceTokenizer::wordpiece(const std::string& word, std::vector<std::string>& out) const {
  // Character boundaries (UTF-8 is valid here: basic_tokens produced it).
  std::vector<std::size_t> bounds;
  for (std::size_t i = 0; i < word.size(); ++i)
    if ((static_cast<unsigned char>(word[i]) & 0xC0) != 0x80) bounds.push_back(i);
  bounds.push_back(word.size());
  const std::size_t chars = bounds.size() - 1;
  if (chars > kMaxCharsPerWord) {
    out.push_back("[UNK]");
    return;
  }
  std::vector<std::string> pieces;
  for (std::size_t start = 0; start < chars;) {
    std::size_t end = chars;
    std::string match;
    for (; end > start; --end) {
      std::string piece = (start > 0 ? "##" : "") + word.substr(bounds[start], bounds[end] - bounds[start]);
      if (ids_.count(piece)) {
        match = std::move(piece);
        break;
      }
    }
    if (match.empty()) {
      out.push_back("[UNK]");
      return;
    }
    pieces.push_back(std::move(match));
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> pieces;
  for (const auto& token : basic_tokens(text)) wordpiece(token, pieces);
  return pieces;
}

Encoding WordPieceTokenizer::encode(std::string_view text, std::size_t max_length) const {
  if (max_length < 2) fail("max_length {} leaves no room for [CLS] and [SEP]", max_length);
  const auto pieces = tokenize(text);
  Encoding e;
  const std::size_t kept = std::min(pieces.size(), max_length - 2);
  e.truncated = kept < pieces.size();
  e.input_ids.reserve(kept + 2);
  e.input_ids.push_back(cls_id_);
  for (std::size_t i = 0; i < kept; ++i) e.input_ids.push_back(id(pieces[i]));
  e.input_ids.push_back(sep_id_);
  return e;
}

}  // namespace cpuinfer
