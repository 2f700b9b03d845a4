// libFuzzer target: arbitrary bytes as a JSON list of {"text", "class"} through the loader's
// parser (UTF-8 check, nlohmann-json, the entries' checks). Any outcome but labelled samples or a
// cpuinfer::Error is a bug: a crash, a sanitizer report, a hang or a leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "data/text_dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto samples =
        cpuinfer::parse_text_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    for (const auto& s : samples)
      if ((s.label != 0 && s.label != 1) || s.text.size() > size) __builtin_trap();
  } catch (const cpuinfer::Error&) {
  }
  return 0;
}
