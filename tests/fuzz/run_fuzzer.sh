#!/usr/bin/env bash
# Builds the importer's libFuzzer target with clang (AddressSanitizer + UBSan) in its own build
# folder, seeds it with the ONNX backend test models, and fuzzes for a bounded time.
#   tests/fuzz/run_fuzzer.sh [SECONDS]   (default 60)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
build=${OCTET_FUZZ_BUILD_DIR:-$root/build-fuzz}
if [ ! -f "$build/build.ninja" ]; then
  mkdir -p "$build"
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOCTET_FUZZ=ON -DOCTET_BUILD_TESTS=OFF > "$build/configure.log" 2>&1 ||
    { cat "$build/configure.log"; exit 1; }
fi
cmake --build "$build" --target onnx_importer_fuzzer -j "$(nproc)"
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
i=0
for model in /usr/share/libonnx-testdata/data/{node,simple,pytorch-converted,pytorch-operator}/*/model.onnx; do
  cp "$model" "$corpus/seed-$i.onnx"
  i=$((i + 1))
done
echo "run_fuzzer.sh: $i seed models, fuzzing for $seconds s"
# Findings are written to the build folder; libFuzzer exits non-zero on a crash, leak or timeout.
"$build/tests/onnx_importer_fuzzer" "$corpus" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -malloc_limit_mb=1024 -artifact_prefix="$build/" -print_final_stats=1
