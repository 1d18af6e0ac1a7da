#!/usr/bin/env bash
# Configures (once) and builds with Ninja into $OCTET_BUILD_DIR (default: build/).
# Warnings are errors when CI is set. Extra arguments go to CMake's configure step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OCTET_BUILD_DIR:-$root/build}
werror=OFF
if [ -n "${CI:-}" ]; then werror=ON; fi
if [ ! -f "$build/build.ninja" ] || [ "$#" -gt 0 ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOCTET_WERROR="$werror" "$@"
fi
cmake --build "$build" -j "$(nproc)"
