#!/usr/bin/env bash
# Fuzzes one of cpuinfer's libFuzzer targets (fuzz/, with ASan and UBSan; clang), or all of them one
# after another, for SECONDS seconds each; or runs the differential graph fuzzer for SECONDS:
#   scripts/fuzz.sh TARGET|all|graphs [SECONDS=60]
# TARGET (with or without the _fuzzer suffix):
#   onnx_import          the engine's ONNX importer and session creation, starting from the models of
#                        ONNX's node tests (Debian's libonnx-testdata)
#   npy_file             the .npy reader                   image_decode       JPEG and PNG decoding
#   wordpiece_tokenizer  the tokenizer on any text         text_dataset_csv   the review,sentiment CSV loader
#   text_dataset_json    the {"text", "class"} JSON loader
#   graphs               the differential graph fuzzer (fuzz/graphs): random ONNX graphs, the native
#                        engine in every configuration against ONNX Runtime, SECONDS split over the ISA
#                        levels the CPU has (CPUINFER_MAX_ISA); mismatches shrunk and kept in
#                        build/graph-fuzz-findings/. Built in build/ (Release), not under the sanitizers.
#                        Its last line reads "graphs: N run, M mismatches". Not part of `all`.
# The data targets start from their committed seeds, fuzz/corpus/<target>_fuzzer/, copied into a
# working corpus, build-fuzz/corpus/<target>_fuzzer/, which the fuzzer grows (the committed files
# stay as they are); fuzz/<target>_fuzzer.dict, where present, is its dictionary.
# Exits non-zero on any crash, sanitizer report, leak or timeout (of any target, with `all`); the
# input is left in build-fuzz/artifacts/<target>_fuzzer/ for reproduction: build-fuzz/<target>_fuzzer <file>.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
all=(onnx_import npy_file image_decode wordpiece_tokenizer text_dataset_csv text_dataset_json)
usage() { echo "usage: scripts/fuzz.sh TARGET|all|graphs [SECONDS=60]; TARGET: ${all[*]}" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
seconds=${2:-60}
[[ $seconds =~ ^[0-9]+$ ]] || usage
if [ "$1" = graphs ]; then
  cmake --build build --target cpuinfer_graph_fuzzer >/dev/null
  levels=(baseline avx2)
  grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && levels+=(avx512)
  grep -qw avx2 /proc/cpuinfo || levels=(baseline)
  share=$(( (seconds + ${#levels[@]} - 1) / ${#levels[@]} ))
  run=0 mismatches=0 seed=$(( $(date +%s) % 1000000 * 1000 ))
  for level in "${levels[@]}"; do
    echo "== graphs at ISA level $level: $share s from seed $seed"
    set +e
    CPUINFER_MAX_ISA=$level build/cpuinfer_graph_fuzzer --seconds "$share" --seed "$seed" --save build/graph-fuzz-findings \
      | tee build/graph-fuzz-$level.log | grep -v '^ok '
    set -e
    last=$(tail -1 build/graph-fuzz-$level.log)
    [[ $last =~ ^graphs:\ ([0-9]+)\ run,\ ([0-9]+)\ mismatches$ ]] || { echo "graph fuzzer at $level ended with: $last" >&2; exit 1; }
    run=$((run + BASH_REMATCH[1])); mismatches=$((mismatches + BASH_REMATCH[2]))
  done
  echo "graphs: $run run, $mismatches mismatches"
  [ "$mismatches" -eq 0 ]
  exit
fi
if [ "$1" = all ]; then
  targets=("${all[@]}")
else
  targets=("${1%_fuzzer}")
  [[ " ${all[*]} " == *" ${targets[0]} "* ]] || usage
fi

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCPUINFER_FUZZ=ON >/dev/null
cmake --build build-fuzz --target "${targets[@]/%/_fuzzer}"

# Runs one target; prints libFuzzer's progress, statistics and any report; returns its status.
fuzz() {
  local name=$1_fuzzer max_len=4096
  local corpus=build-fuzz/corpus/$name artifacts=build-fuzz/artifacts/$name
  mkdir -p "$corpus" "$artifacts"
  if [ "$1" = onnx_import ]; then
    max_len=16384
    if [ -z "$(ls -A "$corpus")" ]; then
      for d in /usr/share/libonnx-testdata/data/node/*/; do cp "$d/model.onnx" "$corpus/$(basename "$d").onnx"; done
    fi
  else
    [ "$1" = image_decode ] && max_len=16384
    for f in fuzz/corpus/"$name"/*; do [ -e "$corpus/${f##*/}" ] || cp "$f" "$corpus"/; done
  fi
  local dict=()
  [ -f fuzz/"$name".dict ] && dict=(-dict=fuzz/"$name".dict)
  echo "== $name: ${seconds} s from $corpus"
  build-fuzz/"$name" "$corpus" "${dict[@]}" -artifact_prefix="$artifacts"/ -max_total_time="$seconds" \
    -rss_limit_mb=4096 -timeout=10 -max_len="$max_len" -print_final_stats=1 2>&1 |
    grep -E "^(#|==|SUMMARY|INFO: Running|Done|stat::|artifact_prefix)" | tail -n 25
  return "${PIPESTATUS[0]}"
}

failed=()
for t in "${targets[@]}"; do
  fuzz "$t" || failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]} (inputs in build-fuzz/artifacts/)" >&2
  exit 1
fi
