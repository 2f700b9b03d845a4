// Text models' inputs from token ids (data/text_inputs.h).
#include "data/text_inputs.h"

#include <algorithm>

#include "core/error.h"

namespace cpuinfer {

TextInput text_input_role(const std::string& name) {
  if (name.find("mask") != std::string::npos) return TextInput::mask;
  if (name.find("type") != std::string::npos || name.find("segment") != std::string::npos) return TextInput::types;
  if (name.find("id") != std::string::npos) return TextInput::ids;
  fail("input '{}' is none of token ids, attention mask or token types", name);
}

Tensor text_input_tensor(TextInput role, const std::vector<std::vector<std::int64_t>>& texts, std::int64_t pad_id, DType dtype) {
  if (dtype != DType::i64 && dtype != DType::i32) fail("token inputs are int64 or int32, not {}", dtype_name(dtype));
  std::size_t longest = 0;
  for (const auto& t : texts) longest = std::max(longest, t.size());
  Tensor out(dtype, {static_cast<std::int64_t>(texts.size()), static_cast<std::int64_t>(longest)});
  auto fill = [&]<typename T>(T) {
    T* p = static_cast<T*>(out.data());
    for (std::size_t r = 0; r < texts.size(); ++r)
      for (std::size_t i = 0; i < longest; ++i) {
        const bool token = i < texts[r].size();
        const std::int64_t v = role == TextInput::ids ? (token ? texts[r][i] : pad_id) : role == TextInput::mask ? token : 0;
        p[r * longest + i] = static_cast<T>(v);
      }
  };
  if (dtype == DType::i64) fill(std::int64_t{});
  else fill(std::int32_t{});
  return out;
}

}  // namespace cpuinfer
