// libFuzzer target: arbitrary bytes (invalid UTF-8 included) as a text through the WordPiece
// tokenizer, with a small vocabulary built here: ASCII words and continuations, punctuation,
// accented, Greek and CJK pieces. The first byte picks lower-casing (bit 0) and max_length (2 to
// 129); the rest is the text. Any outcome but a well-formed encoding or a cpuinfer::Error (invalid
// UTF-8) is a bug: a crash, a sanitizer report, a hang, a leak, or an encoding that breaks its own
// rules (checked below).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "data/wordpiece_tokenizer.h"

namespace {

const std::vector<std::string>& vocabulary() {
  static const std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "was", "great", "un", "##want", "##ed",
          "runn", "##ing", "a", "##a", "##s", "cafe", "Café", "naive", "resume", "!", ",", ".", "'", "$", "<", ">",
          "\"", "-", "10", "##0", "世", "界", "ε", "##λ", "##λη", "über", "uber", "ß", "##ß", "İ", "i̇"};
  return vocab;
}

const cpuinfer::WordPieceTokenizer& tokenizer(bool lowercase) {
  static const cpuinfer::WordPieceTokenizer lower(vocabulary(), true), cased(vocabulary(), false);
  return lowercase ? lower : cased;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const cpuinfer::WordPieceTokenizer& t = tokenizer((data[0] & 1) != 0);
  const std::size_t max_length = 2 + (data[0] >> 1);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto vocab_size = static_cast<std::int64_t>(vocabulary().size());
  try {
    const std::vector<std::string> pieces = t.tokenize(text);
    for (const auto& piece : pieces)
      if (piece.empty() || (piece != "[UNK]" && t.id(piece) == t.id("[UNK]"))) __builtin_trap();
    const cpuinfer::Encoding e = t.encode(text, max_length);
    const std::size_t expected = std::min(pieces.size() + 2, max_length);
    if (e.input_ids.size() != expected || e.truncated != (pieces.size() + 2 > max_length) ||
        e.input_ids.front() != t.id("[CLS]") || e.input_ids.back() != t.id("[SEP]"))
      __builtin_trap();
    for (std::int64_t id : e.input_ids)
      if (id < 0 || id >= vocab_size) __builtin_trap();
  } catch (const cpuinfer::Error&) {
  }
  return 0;
}
