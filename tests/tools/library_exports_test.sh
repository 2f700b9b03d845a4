#!/usr/bin/env bash
# libcpuinfer.so exports the public API of include/cpuinfer/ and nothing else (cmake/libcpuinfer.map):
# every defined dynamic symbol is a member of Model, Session or Output, an element-type function,
# or the type information of Error and Unsupported.
#   library_exports_test.sh LIBRARY
set -euo pipefail
library=$1
symbols=$(nm -DC --defined-only "$library" | cut -d' ' -f3- | sed 's/@@*CPUINFER_0$//')
public='^(cpuinfer::(Model|Session|Output)::|cpuinfer::element_(size|type_name)(\[abi:cxx11\])?\(|(typeinfo|typeinfo name|vtable) for cpuinfer::(Error|Unsupported)$|CPUINFER_0$)'
others=$(grep -Ev "$public" <<<"$symbols" || true)
if [ -n "$others" ]; then
  echo "$library exports $(wc -l <<<"$others") symbols beyond the public API, e.g.:"
  head -5 <<<"$others"
  exit 1
fi
for needed in 'cpuinfer::Model::Model(' 'cpuinfer::Session::run(' 'typeinfo for cpuinfer::Error'; do
  grep -qF "$needed" <<<"$symbols" || { echo "$library lacks $needed"; exit 1; }
done
echo "$library exports $(wc -l <<<"$symbols") symbols, all of the public API"
