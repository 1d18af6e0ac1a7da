#!/usr/bin/env bash
# Installs what is missing, builds, starts octetd with its embedded defaults (gRPC on
# 127.0.0.1:8500, metrics on 127.0.0.1:9464, data in ./octet-data), shows a short demo with the
# octet CLI, then keeps serving until Ctrl-C. Extra arguments go to octetd.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OCTET_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh"
"$root/scripts/build.sh"

ready=$(mktemp -u /tmp/octetd-ready.XXXXXX)
"$build/server/octetd" --ready_file="$ready" "$@" &
octetd=$!
trap 'kill -TERM $octetd 2>/dev/null; wait $octetd' INT TERM
for _ in $(seq 100); do
  [ -f "$ready" ] && break
  kill -0 $octetd 2>/dev/null || { wait $octetd; exit $?; }
  sleep 0.1
done
port=$(sed -n 's/^grpc_port=//p' "$ready")
metrics_port=$(sed -n 's/^metrics_port=//p' "$ready")
rm -f "$ready"

demo=$(mktemp -d)
octet() { "$build/client/octet" --server "127.0.0.1:$port" "$@"; }
echo "== demo: a small CNN, uploaded and served in float through oneDNN =="
"$build/tests/make_tiny_cnn" "$demo/tiny_cnn.onnx" "$demo/images.npy"
octet health
octet models upload "$demo/tiny_cnn.onnx" --name tiny-cnn --description "scripts/run.sh demo"
octet models get tiny-cnn
octet infer --model tiny-cnn --input "$demo/images.npy"
rm -rf "$demo"
echo "== octetd serves gRPC on port $port and http://127.0.0.1:$metrics_port/metrics; Ctrl-C stops it =="
wait $octetd
