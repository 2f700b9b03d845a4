// The versions ONNX gave its default-domain operators after opset 17 (ONNX 1.12, whose node tests pin
// the engine's kernels), from ONNX's docs/Changelog.md: which opsets changed only element types and
// which changed meaning, so a model of a newer opset runs where nothing changed and is refused, naming
// the change, where something did.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
namespace cpuinfer::engine {
enum class OperatorChange { types, new_operator, semantics };
struct OperatorVersion {
  std::string_view op;
  std::int64_t version;     // since_version
  OperatorChange change;
  std::string_view what;    // one short clause, e.g. "axes became an input"; never empty: a types-only
                            // version says which types, e.g. "adds bfloat16"
};
// Every version after 17 of `op`, oldest first (empty if it has none).
std::span<const OperatorVersion> versions_after_17(std::string_view op);
// The newest opset the table knows (the newest in the Changelog it was taken from).
std::int64_t newest_known_opset();
}  // namespace cpuinfer::engine
