#!/usr/bin/env bash
# examples/embed against the installed package: installs the build into a fresh prefix (as setup.sh
# installs into /usr/local), configures and builds the example there with find_package(cpuinfer),
# and classifies one picture with ResNet-101. Also checks the pkg-config file compiles a program.
# With `deb`, the prefix is the Debian package CPack makes, unpacked: its files under /usr and its
# dependencies (dpkg-shlibdeps's) checked, and `import cpuinfer` from it.
#   embed_example_test.sh BUILD_DIR SOURCE_DIR MODEL.onnx IMAGE.jpg [deb]
set -euo pipefail
build=$1 source=$2 model=$3 image=$4 from=${5:-install}
[ -f "$model" ] && [ -f "$image" ] || { echo "skipped: no $model or $image (scripts/setup.sh makes them)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$from" = deb ]; then
  (cd "$work" && cpack --config "$build/CPackConfig.cmake" -B "$work/package" >/dev/null)
  deb=$(ls "$work"/package/cpuinfer_*.deb)
  echo "package: $(basename "$deb")"
  depends=$(dpkg-deb -f "$deb" Depends)
  echo "Depends: $depends"
  for lib in libdnnl libonnx libprotobuf libgomp libstdc++; do
    grep -q "$lib" <<<"$depends" || { echo "the package does not depend on $lib"; exit 1; }
  done
  dpkg-deb -x "$deb" "$work/root"
  ln -s "$work/root/usr" "$work/prefix"
  python_dir=$(ls -d "$work"/prefix/lib/python3*/dist-packages)
  PYTHONPATH="$python_dir" LD_LIBRARY_PATH="$work/prefix/lib" /usr/bin/python3 -c \
    "import cpuinfer, sys; assert cpuinfer.__file__.startswith(sys.argv[1]), cpuinfer.__file__; print('python:', cpuinfer.__file__)" "$python_dir"
else
  cmake --install "$build" --prefix "$work/prefix" >/dev/null
fi
cmake -S "$source/examples/embed" -B "$work/embed" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/embed" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib" "$work/embed/classify" "$model" "$image" | tee "$work/out.txt"
[ "$(grep -c '^class [0-9]*: ' "$work/out.txt")" = 5 ] || { echo "expected 5 classes"; exit 1; }
if LD_LIBRARY_PATH="$work/prefix/lib" "$work/embed/classify" "$model" "$work/out.txt" 2>"$work/err.txt"; then
  echo "a text file was classified"; exit 1
fi
grep -q "not a JPEG" "$work/err.txt" || { echo "bad image error: $(cat "$work/err.txt")"; exit 1; }
# pkg-config
printf '#include <cpuinfer/cpuinfer.h>\nint main() { return cpuinfer::Model::engine_version().empty(); }\n' > "$work/p.cpp"
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" c++ "$work/p.cpp" -o "$work/p" $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs cpuinfer)
LD_LIBRARY_PATH="$work/prefix/lib" "$work/p"
echo "embed example ok"
