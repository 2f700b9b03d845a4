// One-line condensation of library error messages.
#include "core/error.h"

#include <string_view>

namespace cpuinfer {

std::string first_line(const std::string& message) {
  std::string_view text(message);
  const std::size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return {};
  text.remove_prefix(start);
  return std::string(text.substr(0, text.find_first_of("\r\n")));
}

}  // namespace cpuinfer
