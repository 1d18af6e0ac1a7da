#!/usr/bin/env bash
# Installs what is missing, builds, starts octetd with its embedded defaults (gRPC on
# 127.0.0.1:8500, metrics on 127.0.0.1:9464, data in ./octet-data), and shows Octet's main job
# against it with the octet CLI: a float Fashion-MNIST ResNet uploaded, quantized with the
# default settings on Fashion-MNIST images (Debian's dataset-fashion-mnist), and both versions
# compared as this server serves them. octetd then keeps serving until Ctrl-C. Extra arguments go
# to octetd.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OCTET_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh" --demo
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
model=fashion-resnet
echo "== 1. a float model: a small ResNet trained on Fashion-MNIST =="
octet health
octet models upload "$root/tests/data/fashion_mnist/resnet_small.onnx" --name "$model" \
  --description "scripts/run.sh demo: float" | tee "$demo/upload.txt"
float_version=$(sed -n 's/.* version \([0-9]*\) (.*/\1/p' "$demo/upload.txt")
echo "== 2. calibration and evaluation data from Debian's dataset-fashion-mnist =="
"$build/tests/make_fashion_mnist_npz" train 0 1000 "$demo/calibration.npz"
"$build/tests/make_fashion_mnist_npz" test 0 1000 "$demo/evaluation.npz"
for set in calibration evaluation; do
  octet datasets get "demo-$set" > /dev/null 2>&1 ||
    octet datasets upload "$demo/$set.npz" --name "demo-$set"
done
echo "== 3. post-training quantization with the default settings, as a job on the server =="
octet quantize --model "$model" --version "$float_version" --calibration demo-calibration \
  --eval demo-evaluation --wait | tee "$demo/job.txt"
quantized_version=$(sed -n 's/^[^ ]* version \([0-9]*\) from version.*/\1/p' "$demo/job.txt")
echo "== 4. both versions as this server serves them (latency: one client, round trip) =="
octet models compare "$model" --versions "$float_version,$quantized_version"
echo "== 5. four test images through the quantized version =="
"$build/tests/make_fashion_mnist_npz" test 1000 4 "$demo/images.npy"
octet infer --model "$model" --version "$quantized_version" --input "$demo/images.npy"
rm -rf "$demo"
cat <<TEXT
== octetd keeps serving: gRPC on 127.0.0.1:$port, metrics on http://127.0.0.1:$metrics_port/metrics ==
   octet --server 127.0.0.1:$port models describe $model --version $quantized_version   # what runs in int8, step by step
   octet --server 127.0.0.1:$port bench --model $model --concurrency 16 --duration 10   # load, with the server's own times
   curl -s 127.0.0.1:$metrics_port/metrics | grep octet_inference                          # what Prometheus scrapes
   Ctrl-C stops it.
TEXT
wait $octetd
