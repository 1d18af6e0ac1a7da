#!/usr/bin/env bash
# Octet int8 against its own float path and against ONNX Runtime and PyTorch, float and int8,
# same thread count, in one script (issue 5's speed benchmark):
#   bench/run_int8_benchmark.sh [THREADS] [RUNS]   (defaults: nproc, 5)
# Octet int8 is timed three times per model: the default job configuration for this CPU (what
# `octet quantize` makes with no options: octet_bench_quantize "auto"), and explicit 7-bit and
# 8-bit weights beside it. The peers' int8 runs take the default's QDQ file.
# Models: the Fashion-MNIST fixtures and torchvision ResNet-18 and MobileNetV2 at 224x224
# (exported on demand into build/bench-models; untrained weights, speed only). Each is quantized
# by Octet (default configuration apart from the weight bits; octet_bench_quantize), and that QDQ
# file is what Octet int8 and ONNX Runtime int8 run. PyTorch int8 is its FX post-training
# quantization (onednn engine) of the same network (bench/pytorch_bench.py).
# The default is 8-bit weights with VNNI; without, 7 (there oneDNN's u8 x s8 products are summed
# pairwise in 16 bits, exact only for weights within 7 bits), with 8-bit pointwise and depthwise
# layers where the model needs them (Octet's own exact VPMADDWD kernels run those). With explicit
# 8-bit weights on such a CPU, Octet runs convolutions and Gemm on its exact VPMADDWD product and
# depthwise kernel, where ORT's and PyTorch's VPMADDUBSW kernels would saturate.
# The measurements are taken in ROUNDS rounds (environment OCTET_BENCH_ROUNDS, default 3), each
# timing every runtime on every model once with RUNS runs, so that a noisy spell of a shared
# machine falls on all of them rather than on one: a cell is the median of the rounds' medians,
# with the smallest min and largest max.
# Prints a Markdown table: medians (min-max) in ms; each Octet int8's speed-up over Octet float;
# the fastest peer int8 over Octet's default int8; Octet default int8's conv+gemm throughput in
# GMAC/s (at its median) and as a share of the single u8s8 convolution's best (octet_conv_peak);
# file sizes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OCTET_BUILD_DIR:-$root/build}
threads=${1:-$(nproc)}
runs=${2:-5}
. "$root/bench/setup_peers.sh"
"$root/scripts/build.sh" > /dev/null
cmake --build "$build" --target octet_float_bench octet_bench_quantize octet_conv_peak > /dev/null
models="$build/bench-models"
/usr/bin/python3 "$root/bench/export_torchvision.py" "$models"
results=$(mktemp)
trap 'rm -f "$results"' EXIT

peak=$("$build/bench/octet_conv_peak" "$threads" $((runs > 20 ? runs : 20)) | head -1)
rounds=${OCTET_BENCH_ROUNDS:-3}
entries=("$root/tests/data/fashion_mnist/resnet_small.onnx:1,1,28,28:--fashion_mnist"
         "$root/tests/data/fashion_mnist/mobilenetv2_small.onnx:1,1,28,28:--fashion_mnist"
         "$models/resnet18.onnx:1,3,224,224:" "$models/mobilenet_v2.onnx:1,3,224,224:")
for entry in "${entries[@]}"; do
  IFS=: read -r model shape calibration <<< "$entry"
  for b in auto 7 8; do
    "$build/bench/octet_bench_quantize" "$model" "$models/$(basename "$model" .onnx).w$b.qdq.onnx" \
      "$b" $calibration >&2
  done
done
for round in $(seq "$rounds"); do
  for entry in "${entries[@]}"; do
    IFS=: read -r model shape calibration <<< "$entry"
    name=$(basename "$model" .onnx)
    qdq="$models/$name.wauto.qdq.onnx"
    macs=$(/usr/bin/python3 "$root/bench/model_macs.py" "$model")
    torch_model=$model
    case $name in resnet18 | mobilenet_v2) torch_model=$name ;; esac
    torch=$(/usr/bin/python3 "$root/bench/pytorch_bench.py" "$torch_model" "$threads" "$runs" 1 32 2> /dev/null)
    for batch in 1 32; do
      octet_f32=$("$build/bench/octet_float_bench" "$model" "$batch" "$threads" "$runs")
      octet_int8=$("$build/bench/octet_float_bench" "$qdq" "$batch" "$threads" "$runs")
      octet_int8_7=$("$build/bench/octet_float_bench" "$models/$name.w7.qdq.onnx" "$batch" "$threads" "$runs")
      octet_int8_8=$("$build/bench/octet_float_bench" "$models/$name.w8.qdq.onnx" "$batch" "$threads" "$runs")
      ort_f32=$(OCTET_BENCH_INPUT_SHAPE=$shape node "$root/bench/ort_float_bench.js" "$model" "$batch" "$threads" "$runs" 2> /dev/null)
      ort_int8=$(OCTET_BENCH_INPUT_SHAPE=$shape node "$root/bench/ort_float_bench.js" "$qdq" "$batch" "$threads" "$runs" 2> /dev/null)
      torch_batch=$(grep "\"batch\": $batch," <<< "$torch")
      echo "{\"name\": \"$name\", \"batch\": $batch, \"macs\": $macs, \"float_bytes\": $(stat -c %s "$model"), \"qdq_bytes\": $(stat -c %s "$qdq"), \"octet_f32\": $octet_f32, \"octet_int8\": $octet_int8, \"octet_int8_7\": $octet_int8_7, \"octet_int8_8\": $octet_int8_8, \"ort_f32\": $ort_f32, \"ort_int8\": $ort_int8, \"torch_f32\": $(/usr/bin/python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["float"]))' "$torch_batch"), \"torch_int8\": $(/usr/bin/python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["int8"]))' "$torch_batch")}" >> "$results"
    done
  done
done

"$root/bench/provenance.sh" "OCTET_BENCH_ROUNDS=$rounds bench/run_int8_benchmark.sh $threads $runs"
/usr/bin/python3 - "$results" "$peak" "$threads" "$runs" "$rounds" <<'PY'
import json, statistics, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
peak, threads, runs, rounds = json.loads(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
tools = ["octet_f32", "octet_int8", "octet_int8_7", "octet_int8_8", "ort_f32", "ort_int8",
         "torch_f32", "torch_int8"]
rows = {}
for line in lines:
    key = (line["name"], line["batch"])
    row = rows.setdefault(key, dict(line, **{t: [] for t in tools}))
    for t in tools:
        row[t].append(line[t])
def merge(samples):
    return {"median_ms": statistics.median(s["median_ms"] for s in samples),
            "min_ms": min(s["min_ms"] for s in samples), "max_ms": max(s["max_ms"] for s in samples)}
cell = lambda r: f"{r['median_ms']:.2f} ({r['min_ms']:.2f}-{r['max_ms']:.2f})"
print(f"{threads} threads; median of {rounds} rounds' medians of {runs} runs (min-max over all runs), in ms. "
      "Octet int8 (default) is what a job with no options makes for this CPU; the peers' int8 "
      "runs take that QDQ file. The 7-bit and 8-bit columns are jobs with explicit weight bits.")
print(f"Single-convolution peak (3x3, 64->64, 56x56, batch 32, u8s8, {peak['implementation']}, "
      f"best of 20 runs): {peak['gmacs_per_s']:.1f} GMAC/s.")
print()
print("| model | batch | Octet f32 | Octet int8 (default) | Octet int8, 7-bit | Octet int8, 8-bit "
      "| ORT f32 | ORT int8 | PyTorch f32 | PyTorch int8 | f32 / int8 (default, 7-bit, 8-bit) "
      "| best peer int8 / Octet int8 | Octet int8 GMAC/s (% of peak) | f32 / QDQ file (MB) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows.values():
    m = {t: merge(r[t]) for t in tools}
    f32 = m["octet_f32"]["median_ms"]
    octet = m["octet_int8"]["median_ms"]
    peer = min(m["ort_int8"]["median_ms"], m["torch_int8"]["median_ms"])
    gmacs = r["macs"] * r["batch"] / octet / 1e6
    speedups = " / ".join(f"{f32 / m[t]['median_ms']:.2f}x"
                          for t in ("octet_int8", "octet_int8_7", "octet_int8_8"))
    print(f"| {r['name']} | {r['batch']} | {cell(m['octet_f32'])} | {cell(m['octet_int8'])} | "
          f"{cell(m['octet_int8_7'])} | {cell(m['octet_int8_8'])} | "
          f"{cell(m['ort_f32'])} | {cell(m['ort_int8'])} | {cell(m['torch_f32'])} | "
          f"{cell(m['torch_int8'])} | {speedups} | "
          f"{peer / octet:.2f} | {gmacs:.1f} ({100 * gmacs / peak['gmacs_per_s']:.0f}%) | "
          f"{r['float_bytes'] / 1e6:.2f} / {r['qdq_bytes'] / 1e6:.2f} |")
PY
