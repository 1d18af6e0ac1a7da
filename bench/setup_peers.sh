# Sourced by the benchmark scripts: installs what the peers need (fixtures' Python packages, and
# ONNX Runtime's CPU build from the npm package onnxruntime-node) when it is missing.
# Expects $root.
"$root/scripts/setup.sh" --fixtures
# Any Node.js with npm will do; Debian's is installed only where none is on PATH.
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
fi
[ -d "$root/bench/node_modules/onnxruntime-node" ] ||
  (cd "$root/bench" && npm install --ignore-scripts --no-audit --no-fund)
