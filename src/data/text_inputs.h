// A BERT-style model's inputs made from tokenized texts: each input recognised by its name (token
// ids, attention mask, token types), texts of different lengths padded to the longest with the
// pad id and a mask of zeros (the engine's token packing then skips the padding).
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"

namespace cpuinfer {

enum class TextInput { ids, mask, types };

// By name: "...mask..." the attention mask, "...type..." or "...segment..." the token types,
// "...id..." the token ids. Throws cpuinfer::Error naming the input otherwise.
TextInput text_input_role(const std::string& name);

// One [texts, longest] tensor per role, of `dtype` (int64 or int32): ids padded with pad_id, the
// mask 1 over each text's tokens, token types 0 (one segment).
Tensor text_input_tensor(TextInput role, const std::vector<std::vector<std::int64_t>>& texts, std::int64_t pad_id, DType dtype);

}  // namespace cpuinfer
