#!/usr/bin/env bash
# What drift monitoring costs live requests, through a real octetd on loopback:
#   bench/run_drift_benchmark.sh [SECONDS] [ROUNDS]      (defaults: 10, 3)
# The ResNet fixture is uploaded and quantized by a job with the defaults (calibration: 1,000
# Fashion-MNIST training images; evaluation: 500 test images), so that its int8 version has a
# float source. octetd then restarts on the same data directory in three configurations, in turn
# ROUNDS times (so that the machine's drift in speed spreads over all of them):
#   off      --drift_sample_rate=0
#   default  the default flags (--drift_sample_rate=0.01, --drift_max_per_second=5,
#            --drift_max_compute_share=0.05)
#   all      --drift_sample_rate=1 --drift_max_per_second=0 --drift_max_compute_share=0 (every
#            request, no limit: the shadow queue fills and drops)
# and `octet bench` loads the int8 version with a real test image: one client for SECONDS (p50,
# p99), then 16 clients for SECONDS (requests/s, p50, p99, errors). After the loads, octetd's own
# counters: rows compared, samples dropped because the shadow queue was full, and its RSS.
# Prints Markdown: the provenance header (bench/provenance.sh), one row per run, and the medians
# of each configuration against `off`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OCTET_BUILD_DIR:-$root/build}
seconds=${1:-10}
rounds=${2:-3}
"$root/scripts/build.sh" > /dev/null
cmake --build "$build" --target octetd octet make_fashion_mnist_npz > /dev/null
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null || true
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start_server FLAGS...: octetd on the shared data directory, free ports; sets $server, $metrics.
start_server() {
  rm -f "$work/ready"
  "$build/server/octetd" --data_dir "$work/data" --grpc_address 127.0.0.1:0 \
    --metrics_address 127.0.0.1:0 --ready_file "$work/ready" "$@" 2>> "$work/octetd.log" &
  server_pid=$!
  for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.1; done
  server=127.0.0.1:$(sed -n 's/^grpc_port=//p' "$work/ready")
  metrics=http://127.0.0.1:$(sed -n 's/^metrics_port=//p' "$work/ready")/metrics
}
stop_server() {
  kill "$server_pid"
  wait "$server_pid" 2> /dev/null || true
  server_pid=""
}
octet() { "$build/client/octet" --server "$server" "$@"; }

tools="$build/tests"
"$tools/make_fashion_mnist_npz" train 0 1000 "$work/calib.npz" > /dev/null
"$tools/make_fashion_mnist_npz" test 0 500 "$work/eval.npz" > /dev/null
"$tools/make_fashion_mnist_npz" test 2000 1 "$work/image.npy" > /dev/null
start_server
octet models upload "$root/tests/data/fashion_mnist/resnet_small.onnx" --name resnet > /dev/null
octet datasets upload "$work/calib.npz" --name calib > /dev/null
octet datasets upload "$work/eval.npz" --name eval > /dev/null
octet quantize --model resnet --calibration calib --eval eval --wait > /dev/null
stop_server

"$root/bench/provenance.sh" "bench/run_drift_benchmark.sh $seconds $rounds"
echo "octetd: default flags but the drift ones; model: resnet_small (tests/data/fashion_mnist), int8 version 2 made by a job with the defaults, source version 1; clients: octet bench on the same machine, one real test image per request."
echo
echo "| monitoring | round | 1 client p50 ms | 1 client p99 ms | 16 clients requests/s | 16 clients p50 ms | 16 clients p99 ms | errors | rows compared | dropped (queue full) | octetd RSS MB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
rows_file="$work/rows.jsonl"
for round in $(seq "$rounds"); do
  for config in off default all; do
    case $config in
      off) start_server --drift_sample_rate=0 ;;
      default) start_server ;;
      all) start_server --drift_sample_rate=1 --drift_max_per_second=0 --drift_max_compute_share=0 ;;
    esac
    one=$(octet --json bench --model resnet --version 2 --input "image=$work/image.npy" \
      --concurrency 1 --duration "$seconds" --warmup 1 --metrics "$metrics" || true)
    many=$(octet --json bench --model resnet --version 2 --input "image=$work/image.npy" \
      --concurrency 16 --duration "$seconds" --warmup 1 --metrics "$metrics" || true)
    sleep 1  # shadow runs queued at the end finish
    exposition=$(curl -s "$metrics")
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
    stop_server
    /usr/bin/python3 - "$config" "$round" "$one" "$many" "$exposition" "$rss" "$rows_file" <<'PY'
import json, re, sys
config, rnd, one, many, exposition, rss, rows_file = sys.argv[1:]
one, many = json.loads(one), json.loads(many)
def metric(name, **labels):
    total = 0.0
    for line in exposition.splitlines():
        m = re.match(r'^' + name + r'\{([^}]*)\} (\S+)$', line)
        if m and all(f'{k}="{v}"' in m.group(1) for k, v in labels.items()):
            total += float(m.group(2))
    return total
compared = metric("octet_drift_samples_total", model="resnet", version="2")
dropped = metric("octet_drift_samples_dropped_total", model="resnet", version="2", reason="queue_full")
errors = one["errors"] + many["errors"]
row = dict(config=config, one_p50=one["p50_ms"], one_p99=one["p99_ms"], rps=many["requests_per_s"],
           p50=many["p50_ms"], p99=many["p99_ms"], errors=errors, compared=compared, dropped=dropped,
           rss=int(rss) / 1024)
print(f"| {config} | {rnd} | {row['one_p50']:.3f} | {row['one_p99']:.3f} | {row['rps']:.0f} | "
      f"{row['p50']:.2f} | {row['p99']:.2f} | {errors} | {compared:.0f} | {dropped:.0f} | {row['rss']:.0f} |")
with open(rows_file, "a") as f:
    f.write(json.dumps(row) + "\n")
PY
  done
done
echo
echo "Medians over the rounds, against monitoring off:"
echo
echo "| monitoring | 1 client p50 | 1 client p99 | 16 clients requests/s | 16 clients p50 | 16 clients p99 |"
echo "|---|---|---|---|---|---|"
/usr/bin/python3 - "$rows_file" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def med(config, key):
    return statistics.median(r[key] for r in rows if r["config"] == config)
for config in ("off", "default", "all"):
    cells = [f"{med(config, k) / med('off', k):.2f}x" for k in ("one_p50", "one_p99", "rps", "p50", "p99")]
    print(f"| {config} | " + " | ".join(cells) + " |")
PY
