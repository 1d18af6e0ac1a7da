#!/usr/bin/env bash
# Octet's serving path against its own engine, through a real octetd on loopback, in one script:
#   bench/run_serving_benchmark.sh [SECONDS] [RUNS]      (defaults: 10, 200)
# octetd runs with its default configuration (one inference worker with every core, dynamic
# batching on: --max_batch_size 32, --max_queue_delay_us 2000), loads come from `octet bench`.
#  1. Overhead. For each model (the Fashion-MNIST fixtures, and torchvision ResNet-18 and
#     MobileNetV2 when build/bench-models holds their exports), float and int8 (Octet's default
#     quantization of it for this CPU, octet_bench_quantize auto: 8-bit weights with VNNI, 7-bit
#     without, ONEDNN_MAX_CPU_ISA included), batch 1, 16 and 32, one client:
#     octet_float_bench's in-process median and mean (RUNS runs) beside the round trip's p50
#     and the server's mean compute time (its octet_inference_compute_duration_seconds) over
#     SECONDS: the compute column is compared with the in-process mean (a histogram gives a
#     mean, and a mean is not a median), the round trip's p50 with the in-process median.
#     Then the int8 rows against the peers in-process, same threads: ONNX Runtime on the same
#     QDQ file, PyTorch's FX post-training int8 of the same network (bench/pytorch_bench.py).
#     Then the floor: a one-Relu model's round trip, split into octetd's own time (its request
#     histogram) and the rest (gRPC, loopback, the client).
#  2. Throughput. 64 clients sending batch-1 requests to the ResNet fixture for 2 x SECONDS:
#     batching on (the default) and off (the model's max_batch_size set to 1), against the
#     engine's in-process images/s at batch 32.
#  3. Overload. 256 clients against octetd --max_queue_size 32 for SECONDS: answers by code,
#     octetd's RSS before and after, and health checks made throughout.
# Prints Markdown: the provenance header (bench/provenance.sh), then one table per part.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OCTET_BUILD_DIR:-$root/build}
seconds=${1:-10}
runs=${2:-200}
batch_runs=$((runs / 8 > 10 ? runs / 8 : 10))  # in-process runs at batch 16 and 32
threads=$(nproc)
. "$root/bench/setup_peers.sh"
"$root/scripts/build.sh" > /dev/null
cmake --build "$build" --target octetd octet octet_float_bench octet_bench_quantize > /dev/null
models="$build/bench-models"
if /usr/bin/python3 -c 'import torchvision' 2> /dev/null; then
  /usr/bin/python3 "$root/bench/export_torchvision.py" "$models" > /dev/null
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start_server NAME FLAGS...: octetd on free ports; sets $server, $metrics and $server_pid.
start_server() {
  local name=$1
  shift
  rm -f "$work/$name.ready"
  "$build/server/octetd" --data_dir "$work/$name" --grpc_address 127.0.0.1:0 \
    --metrics_address 127.0.0.1:0 --ready_file "$work/$name.ready" "$@" 2> "$work/$name.log" &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 100); do [ -f "$work/$name.ready" ] && break; sleep 0.1; done
  server=127.0.0.1:$(sed -n 's/^grpc_port=//p' "$work/$name.ready")
  metrics=http://127.0.0.1:$(sed -n 's/^metrics_port=//p' "$work/$name.ready")/metrics
}
octet() { "$build/client/octet" --server "$server" "$@"; }
field() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, d))' "$1"; }

# MODEL:INPUT SHAPE (for ONNX Runtime, whose node binding gives no shapes):QUANTIZATION OPTION
entries=("$root/tests/data/fashion_mnist/resnet_small.onnx:1,1,28,28:--fashion_mnist"
         "$root/tests/data/fashion_mnist/mobilenetv2_small.onnx:1,1,28,28:--fashion_mnist")
for name in resnet18 mobilenet_v2; do
  [ -f "$models/$name.onnx" ] && entries+=("$models/$name.onnx:1,3,224,224:")
done

"$root/bench/provenance.sh" "bench/run_serving_benchmark.sh $seconds $runs"
echo "octetd: default flags ($threads inference threads, one worker, batching on); clients: octet bench on the same machine."
echo
echo "### Overhead: one client"
echo
echo "| model | precision | batch | in-process median / mean ms | server compute mean ms | compute / in-process mean | round trip p50 ms | p50 - in-process median us |"
echo "|---|---|---|---|---|---|---|---|"
start_server overhead
for entry in "${entries[@]}"; do
  IFS=: read -r model shape calibration <<< "$entry"
  name=$(basename "$model" .onnx)
  qdq="$work/$name.qdq.onnx"
  "$build/bench/octet_bench_quantize" "$model" "$qdq" auto $calibration > /dev/null 2>&1
  octet models upload "$model" --name "$name" > /dev/null
  octet models upload "$qdq" --name "$name-int8" > /dev/null
  for precision in float int8; do
    served=$name file=$model
    [ "$precision" = int8 ] && served=$name-int8 file=$qdq
    for batch in 1 16 32; do
      local_runs=$runs
      [ "$batch" != 1 ] && local_runs=$batch_runs
      inproc=$("$build/bench/octet_float_bench" "$file" "$batch" "$threads" "$local_runs")
      report=$(octet --json bench --model "$served" --batch "$batch" --concurrency 1 \
        --duration "$seconds" --warmup 1 --metrics "$metrics")
      /usr/bin/python3 - "$name" "$precision" "$batch" "$inproc" "$report" "$work/overhead.jsonl" <<'PY'
import json, sys
name, precision, batch = sys.argv[1], sys.argv[2], sys.argv[3]
inproc, report = json.loads(sys.argv[4]), json.loads(sys.argv[5])
median, mean = inproc["median_ms"], inproc["mean_ms"]
compute = report["server"]["compute_ms"] if report["server"] else float("nan")
p50 = report["p50_ms"]
print(f"| {name} | {precision} | {batch} | {median:.3f} / {mean:.3f} | {compute:.3f} | "
      f"{compute / mean:.2f} | {p50:.3f} | {1000 * (p50 - median):.0f} |")
with open(sys.argv[6], "a") as f:
    f.write(json.dumps({"model": name, "precision": precision, "batch": int(batch),
                        "compute": compute, "p50": p50}) + "\n")
PY
    done
  done
  # The peers' int8 in-process, same threads and run counts, while octetd idles.
  torch_model=$model
  case $name in resnet18 | mobilenet_v2) torch_model=$name ;; esac
  /usr/bin/python3 "$root/bench/pytorch_bench.py" "$torch_model" "$threads" "$batch_runs" 1 16 32 2> /dev/null |
    /usr/bin/python3 -c 'import json,sys
for line in sys.stdin:
    r = json.loads(line)
    print(json.dumps({"model": sys.argv[1], "batch": r["batch"], "peer": "torch", "ms": r["int8"]["median_ms"]}))' "$name" >> "$work/peers.jsonl"
  for batch in 1 16 32; do
    local_runs=$runs
    [ "$batch" != 1 ] && local_runs=$batch_runs
    ort=$(OCTET_BENCH_INPUT_SHAPE=$shape node "$root/bench/ort_float_bench.js" "$qdq" "$batch" "$threads" "$local_runs" 2> /dev/null | field median_ms)
    echo "{\"model\": \"$name\", \"batch\": $batch, \"peer\": \"ort\", \"ms\": $ort}" >> "$work/peers.jsonl"
  done
done

echo
echo "### The floor: a model that computes nothing, one client"
echo
# A single Relu over 4 floats: the round trip of a ModelInfer whose computation is negligible,
# split into the server's own time (its request histogram: queue, compute, the rest of its path)
# and what lies outside it (gRPC, loopback, the client), which no change inside octetd removes.
/usr/bin/python3 - "$work/relu.onnx" <<'PY'
import sys
import onnx
from onnx import TensorProto, helper
graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "floor",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
PY
octet models upload "$work/relu.onnx" --name floor > /dev/null
report=$(octet --json bench --model floor --concurrency 1 --duration "$seconds" --warmup 1 \
  --metrics "$metrics")
/usr/bin/python3 - "$report" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
s = r["server"]
print("| round trip p50 ms | server request mean ms (queue / compute) | outside octetd us |")
print("|---|---|---|")
print(f"| {r['p50_ms']:.3f} | {s['request_ms']:.3f} ({s['queue_ms']:.3f} / {s['compute_ms']:.3f}) | "
      f"{1000 * (r['p50_ms'] - s['request_ms']):.0f} |")
PY

echo
echo "### The quantized version against its float original through octetd (from the table above)"
echo
/usr/bin/python3 - "$work/overhead.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
by = {(r["model"], r["precision"], r["batch"]): r for r in rows}
print("| model | batch | float / int8, server compute | float / int8, round trip p50 |")
print("|---|---|---|---|")
for (model, precision, batch), f in by.items():
    q = by.get((model, "int8", batch))
    if precision != "float" or q is None:
        continue
    print(f"| {model} | {batch} | {f['compute'] / q['compute']:.2f}x | {f['p50'] / q['p50']:.2f}x |")
PY

echo
echo "### Octet int8 through octetd against the peers' int8 in-process"
echo
/usr/bin/python3 - "$work/overhead.jsonl" "$work/peers.jsonl" <<'PY'
import json, sys
octet = {(r["model"], r["batch"]): r for r in map(json.loads, open(sys.argv[1])) if r["precision"] == "int8"}
peers = {}
for r in map(json.loads, open(sys.argv[2])):
    peers.setdefault((r["model"], r["batch"]), {})[r["peer"]] = r["ms"]
print("ONNX Runtime runs the QDQ file octetd serves; PyTorch its FX post-training int8 (onednn engine) "
      "of the same network; medians in ms. The last column is octetd's round trip over the faster "
      "peer's in-process time.")
print()
print("| model | batch | octetd round trip p50 | octetd server compute | ONNX Runtime int8 | PyTorch int8 | round trip / faster peer |")
print("|---|---|---|---|---|---|---|")
for key, o in octet.items():
    p = peers.get(key, {})
    ort, torch = p.get("ort", float("nan")), p.get("torch", float("nan"))
    best = min([t for t in (ort, torch) if t == t], default=float("nan"))
    print(f"| {key[0]} | {key[1]} | {o['p50']:.3f} | {o['compute']:.3f} | {ort:.3f} | {torch:.3f} | "
          f"{o['p50'] / best:.2f} |")
PY

echo
echo "### Throughput: 64 clients, batch-1 requests, resnet_small float, $((2 * seconds)) s"
echo
inproc32=$("$build/bench/octet_float_bench" "${entries[0]%%:*}" 32 "$threads" "$runs" | field median_ms)
echo "| batching | requests/s = images/s | p50 ms | p99 ms | failed | mean batch rows | share of in-process batch-32 images/s |"
echo "|---|---|---|---|---|---|---|"
for mode in off on; do
  if [ "$mode" = off ]; then
    octet models serving resnet_small --max-batch-size 1 > /dev/null
  else
    octet models serving resnet_small --reset > /dev/null
  fi
  report=$(octet --json bench --model resnet_small --concurrency 64 --duration $((2 * seconds)) \
    --warmup 2 --metrics "$metrics" || true)
  /usr/bin/python3 - "$mode" "$inproc32" "$report" <<'PY'
import json, sys
mode, inproc32, r = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
rows = r["server"]["batch_rows"] if r["server"] else float("nan")
print(f"| {mode} | {r['images_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | "
      f"{rows:.1f} | {r['images_per_s'] / (32000 / inproc32):.2f} |")
PY
done
echo
echo "In-process at batch 32: $(/usr/bin/python3 -c "print(f'{32000 / $inproc32:.0f}')") images/s ($inproc32 ms per batch)."

echo
echo "### Overload: 256 clients against --max_queue_size 32, resnet_small float, $seconds s"
echo
kill "$server_pid"
wait "$server_pid" 2> /dev/null || true
start_server overload --max_queue_size 32
octet models upload "${entries[0]%%:*}" --name resnet_small > /dev/null
octet bench --model resnet_small --duration 1 --warmup 0 --metrics "$metrics" > /dev/null
rss_before=$(ps -o rss= -p "$server_pid")
octet --json bench --model resnet_small --concurrency 256 --duration "$seconds" --warmup 0 \
  --metrics "$metrics" > "$work/overload.json" || true &
bench_pid=$!
health_ok=0 health_failed=0
while kill -0 "$bench_pid" 2> /dev/null; do
  if octet health > /dev/null 2>&1; then health_ok=$((health_ok + 1)); else health_failed=$((health_failed + 1)); fi
  sleep 0.25
done
wait "$bench_pid" || true
rss_after=$(ps -o rss= -p "$server_pid")
/usr/bin/python3 - "$work/overload.json" "$rss_before" "$rss_after" "$health_ok" "$health_failed" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
codes = ", ".join(f"{code} {count}" for code, count in sorted(r["errors_by_code"].items())) or "none"
print("| succeeded | refused (by code) | succeeded p50 / p99 ms | octetd RSS before -> after | health checks ok / failed |")
print("|---|---|---|---|---|")
print(f"| {r['requests'] - r['errors']} | {codes} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | "
      f"{int(sys.argv[2]) // 1024} MiB -> {int(sys.argv[3]) // 1024} MiB | {sys.argv[4]} / {sys.argv[5]} |")
PY
