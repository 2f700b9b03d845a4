// libFuzzer target: arbitrary bytes as a review,sentiment CSV data set through the loader's parser
// (UTF-8 check, RFC 4180 quoting, the columns, the labels). Any outcome but labelled samples or a
// cpuinfer::Error is a bug: a crash, a sanitizer report, a hang or a leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "data/text_dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto samples =
        cpuinfer::parse_review_csv(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.csv");
    for (const auto& s : samples)
      if ((s.label != 0 && s.label != 1) || s.text.size() > size) __builtin_trap();
  } catch (const cpuinfer::Error&) {
  }
  return 0;
}
