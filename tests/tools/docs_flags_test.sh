#!/usr/bin/env bash
# The docs name every flag and every environment variable: for each subcommand `cpuinfer --help`
# lists, every long option `cpuinfer <sub> --help` prints (but --help) must appear in that
# subcommand's page, docs/<sub>.md, or where it has none in README.md or docs/*.md; so must
# cpuinfer's own top-level options (--version), and every getenv("NAME") under src/.
# Prints one line per missing name, `undocumented: cpuinfer <sub> --flag` or
# `undocumented: environment variable NAME`, and exits 1; else a one-line summary.
#   docs_flags_test.sh CPUINFER_BINARY SOURCE_DIR
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: docs_flags_test.sh CPUINFER_BINARY SOURCE_DIR" >&2; exit 2; }
binary=$1 source=$2
[ -x "$binary" ] || { echo "not an executable: $binary" >&2; exit 2; }
[ -f "$source/README.md" ] && [ -d "$source/docs" ] || { echo "no README.md and docs/ in $source" >&2; exit 2; }
all_docs=("$source/README.md" "$source"/docs/*.md)

# The long options of one help text: the names at the start of each line of its Options section
# ("  -o,--out TEXT", "  --reduce-range,--no-reduce-range{false}": two spaces, then the names;
# descriptions are indented further), --help left out.
long_options() {
  awk '/^Options:/ { on = 1; next } /^[^ ]/ { on = 0 } on && /^  -/ { print $1 }' |
    tr ',' '\n' | sed -e 's/[{:[].*//' -e 's/^!//' | grep -E '^--[a-z0-9]' | grep -vx -- '--help' || true
}

# Whether `name` appears in any of the files as a whole word (--weights is not --weights-seed).
mentioned() {
  local name=$1; shift
  grep -qE -- "(^|[^A-Za-z0-9_-])${name}([^A-Za-z0-9_-]|\$)" "$@"
}

missing=0 flags=0 subcommands=0
check() {  # check SUBCOMMAND FLAG FILE...
  local sub=$1 flag=$2; shift 2
  flags=$((flags + 1))
  if ! mentioned "$flag" "$@"; then
    echo "undocumented: cpuinfer${sub:+ $sub} $flag"
    missing=$((missing + 1))
  fi
}

top_help=$("$binary" --help)
for flag in $(long_options <<<"$top_help"); do check "" "$flag" "${all_docs[@]}"; done
subs=$(awk '/^Subcommands:/ { on = 1; next } /^[^ ]/ { on = 0 } on && NF { print $1 }' <<<"$top_help")
[ -n "$subs" ] || { echo "cpuinfer --help lists no subcommands" >&2; exit 2; }
for sub in $subs; do
  subcommands=$((subcommands + 1))
  page="$source/docs/$sub.md"
  if [ -f "$page" ]; then pages=("$page"); else pages=("${all_docs[@]}"); fi
  for flag in $(long_options < <("$binary" "$sub" --help)); do check "$sub" "$flag" "${pages[@]}"; done
done

variables=0
for name in $(grep -rhoE 'getenv\("[A-Za-z0-9_]+"\)' "$source/src" | sed -E 's/getenv\("([^"]+)"\)/\1/' | sort -u); do
  variables=$((variables + 1))
  if ! mentioned "$name" "${all_docs[@]}"; then
    echo "undocumented: environment variable $name"
    missing=$((missing + 1))
  fi
done

if [ "$missing" -gt 0 ]; then
  echo "$missing undocumented, of $flags flags and $variables environment variables checked against README.md and docs/"
  exit 1
fi
echo "docs name all $flags flags of cpuinfer and its $subcommands subcommands, and all $variables environment variables src/ reads"
