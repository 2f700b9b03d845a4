#!/usr/bin/env bash
# Fuzzes the engine's ONNX importer (libFuzzer, with ASan and UBSan; clang) for SECONDS seconds,
# starting from the models of ONNX's node tests (Debian's libonnx-testdata).
#   scripts/fuzz_importer.sh [SECONDS=60] [CORPUS_DIR=build-fuzz/corpus]
# Exits non-zero on any crash, sanitizer report, leak or timeout; the input is left in
# build-fuzz/artifacts/ for reproduction: build-fuzz/onnx_import_fuzzer <file>.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-60}
corpus=${2:-build-fuzz/corpus}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCPUINFER_FUZZ=ON >/dev/null
cmake --build build-fuzz --target onnx_import_fuzzer
mkdir -p "$corpus" build-fuzz/artifacts
if [ -z "$(ls -A "$corpus")" ]; then
  for d in /usr/share/libonnx-testdata/data/node/*/; do cp "$d/model.onnx" "$corpus/$(basename "$d").onnx"; done
fi
build-fuzz/onnx_import_fuzzer "$corpus" -artifact_prefix=build-fuzz/artifacts/ -max_total_time="$seconds" \
  -rss_limit_mb=4096 -timeout=10 -max_len=16384 -print_final_stats=1 2>&1 | grep -E "^(#|==|SUMMARY|INFO: Running|Done|stat::)" | tail -n 25
exit "${PIPESTATUS[0]}"
