#!/usr/bin/env bash
# Octet float vs ONNX Runtime float, same model file, same thread count, in one script.
#   bench/run_float_benchmark.sh [THREADS] [RUNS]     (defaults: nproc, 7)
# Models: the Fashion-MNIST fixtures (tests/data/fashion_mnist) and torchvision ResNet-18 and
# MobileNetV2 at 224x224, exported on demand into build/bench-models (untrained: speed only).
# Prints, per model and batch size (1 and 32), each runtime's median and min-max over RUNS runs,
# and ORT median / Octet median (above 1: Octet is faster).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OCTET_BUILD_DIR:-$root/build}
threads=${1:-$(nproc)}
runs=${2:-7}
. "$root/bench/setup_peers.sh"
"$root/scripts/build.sh" > /dev/null
cmake --build "$build" --target octet_float_bench > /dev/null
models="$build/bench-models"
/usr/bin/python3 "$root/bench/export_torchvision.py" "$models"

printf '%-22s %5s  %-24s %-24s %s\n' model batch "octet ms (min-max)" "onnxruntime ms (min-max)" "ort/octet"
for entry in "$root/tests/data/fashion_mnist/resnet_small.onnx:1,1,28,28" \
             "$root/tests/data/fashion_mnist/mobilenetv2_small.onnx:1,1,28,28" \
             "$models/resnet18.onnx:1,3,224,224" "$models/mobilenet_v2.onnx:1,3,224,224"; do
  model=${entry%%:*}
  shape=${entry##*:}
  for batch in 1 32; do
    octet=$("$build/bench/octet_float_bench" "$model" "$batch" "$threads" "$runs")
    ort=$(OCTET_BENCH_INPUT_SHAPE=$shape node "$root/bench/ort_float_bench.js" "$model" "$batch" "$threads" "$runs")
    /usr/bin/python3 - "$model" "$batch" "$octet" "$ort" <<'PY'
import json, os, sys
name, batch, octet, ort = os.path.basename(sys.argv[1])[:-5], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
cell = lambda r: f"{r['median_ms']:8.2f} ({r['min_ms']:.2f}-{r['max_ms']:.2f})"
print(f"{name:<22} {batch:>5}  {cell(octet):<24} {cell(ort):<24} {ort['median_ms'] / octet['median_ms']:.2f}")
PY
  done
done
