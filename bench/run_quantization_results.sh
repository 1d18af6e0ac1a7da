#!/usr/bin/env bash
# Regenerates the quantization results table, written to bench/results/DATE-quantization.md:
#  1. every configuration of the study on the Fashion-MNIST fixtures (100 batches of 32 training
#     images calibrate, the 10,000 test images evaluate), then PyTorch's FX post-training
#     quantization of the same models as the peer rows (bench/pytorch_fx_ptq.py);
#  2. the per-layer collapse on torchvision MobileNetV2 224x224 with spread batch-norm channels
#     (bench/export_mobilenet_v2_spread.py), on seeded random inputs;
#  3. the corpus's real exports (ISNet, the wake-word heads, RetinaFace) quantized through a real
#     octetd: default jobs, per-tensor against per-channel weights, other calibrations
#     (bench/run_corpus_quantization.sh, about 40 minutes on 2 cores; --no-corpus leaves it out).
#   bench/run_quantization_results.sh [--print] [--no-corpus]   (--print: print only, no file)
set -euo pipefail
print=false
corpus=true
for arg in "$@"; do
  case "$arg" in
    --print) print=true ;;
    --no-corpus) corpus=false ;;
    *) echo "usage: $0 [--print] [--no-corpus]" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OCTET_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh" --fixtures
"$root/scripts/build.sh" > /dev/null
cmake --build "$build" --target octet_quantization_results > /dev/null
models="$build/bench-models"
mkdir -p "$models"
[ -f "$models/mobilenet_v2_spread.onnx" ] ||
  /usr/bin/python3 "$root/bench/export_mobilenet_v2_spread.py" "$models/mobilenet_v2_spread.onnx" 2> /dev/null
fixtures=("$root/tests/data/fashion_mnist/resnet_small.onnx" "$root/tests/data/fashion_mnist/mobilenetv2_small.onnx")
results=$(mktemp)
trap 'rm -f "$results"' EXIT
{
  "$root/bench/provenance.sh" "bench/run_quantization_results.sh $*"
  table=$("$build/bench/octet_quantization_results" --threads 2 "${fixtures[@]}")
  grep '^|' <<< "$table"
  /usr/bin/python3 "$root/bench/pytorch_fx_ptq.py" "${fixtures[@]}" 2> /dev/null
  echo
  grep '^Best' <<< "$table"
  echo
  echo "Per-layer collapse (whitepaper Table 3 pattern): torchvision MobileNetV2 224x224, batch-norm"
  echo "channels spread over two orders of magnitude, 64 calibration and 32 evaluation inputs drawn"
  echo "from a seeded normal distribution; agreement and SQNR against its float self; bias"
  echo "correction off as in the whitepaper, except in the last row."
  echo
  "$build/bench/octet_quantization_results" --threads 2 --random_inputs "$models/mobilenet_v2_spread.onnx"
  if $corpus; then
    echo
    echo "## Real exports through octetd"
    echo
    "$root/bench/run_corpus_quantization.sh"
  fi
} > "$results"
if $print; then
  cat "$results"
  exit 0
fi
out="$root/bench/results/$(date -u +%Y-%m-%d)-quantization.md"
{ echo "# Quantization results on the Fashion-MNIST fixtures and a spread MobileNetV2"; echo; cat "$results"; } > "$out"
echo "wrote $out"
