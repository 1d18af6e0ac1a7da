#!/usr/bin/env bash
# Octet float vs ONNX Runtime float, same model file, same thread count, in one script.
#   bench/run_float_benchmark.sh [THREADS] [RUNS]     (defaults: nproc, 7)
# Models: the Fashion-MNIST fixtures (tests/data/fashion_mnist) and torchvision ResNet-18 and
# MobileNetV2 at 224x224, exported on demand into build/bench-models (untrained: speed only).
# Measures in OCTET_BENCH_ROUNDS rounds (default 3), each timing both runtimes on every model
# with RUNS runs, so that a noisy spell of a shared machine falls on both. Prints, per model and
# batch size (1 and 32), each runtime's median of the rounds' medians with the min-max over all
# runs, and ORT median / Octet median (above 1: Octet is faster), then the same ratio of the two
# minima (the least disturbed runs: on a shared machine, the steadier figure).
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

rounds=${OCTET_BENCH_ROUNDS:-3}
results=$(mktemp)
trap 'rm -f "$results"' EXIT
entries=("$root/tests/data/fashion_mnist/resnet_small.onnx:1,1,28,28"
         "$root/tests/data/fashion_mnist/mobilenetv2_small.onnx:1,1,28,28"
         "$models/resnet18.onnx:1,3,224,224" "$models/mobilenet_v2.onnx:1,3,224,224")
for round in $(seq "$rounds"); do
  for entry in "${entries[@]}"; do
    model=${entry%%:*}
    shape=${entry##*:}
    for batch in 1 32; do
      octet=$("$build/bench/octet_float_bench" "$model" "$batch" "$threads" "$runs")
      ort=$(OCTET_BENCH_INPUT_SHAPE=$shape node "$root/bench/ort_float_bench.js" "$model" "$batch" "$threads" "$runs" 2> /dev/null)
      echo "{\"name\": \"$(basename "$model" .onnx)\", \"batch\": $batch, \"octet\": $octet, \"ort\": $ort}" >> "$results"
    done
  done
done
"$root/bench/provenance.sh" "OCTET_BENCH_ROUNDS=$rounds bench/run_float_benchmark.sh $threads $runs"
/usr/bin/python3 - "$results" "$rounds" "$runs" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    row = rows.setdefault((r["name"], r["batch"]), {"octet": [], "ort": []})
    row["octet"].append(r["octet"])
    row["ort"].append(r["ort"])
def merge(samples):
    return {"median_ms": statistics.median(s["median_ms"] for s in samples),
            "min_ms": min(s["min_ms"] for s in samples), "max_ms": max(s["max_ms"] for s in samples)}
cell = lambda r: f"{r['median_ms']:8.2f} ({r['min_ms']:.2f}-{r['max_ms']:.2f})"
print(f"median of {sys.argv[2]} rounds' medians of {sys.argv[3]} runs (min-max over all runs), in ms")
print(f"{'model':<22} {'batch':>5}  {'octet ms (min-max)':<24} {'onnxruntime ms (min-max)':<24} ort/octet  (of the minima)")
for (name, batch), row in rows.items():
    octet, ort = merge(row["octet"]), merge(row["ort"])
    print(f"{name:<22} {batch:>5}  {cell(octet):<24} {cell(ort):<24} {ort['median_ms'] / octet['median_ms']:.2f}       "
          f"({ort['min_ms'] / octet['min_ms']:.2f})")
PY
