#!/usr/bin/env bash
# 8-bit against 7-bit weights on an AVX2 CPU without VNNI, in one script: Octet float, Octet int8
# with 7-bit weights (oneDNN's VPMADDUBSW kernels, exact within 7 bits) and with 8-bit weights
# (Octet's VPMADDWD product for convolutions and Gemm/MatMul, its depthwise kernel for depthwise
# ones), and with 7-bit weights but 8-bit pointwise
# layers, and 8-bit depthwise ones too (what the AVX2 default job gives a model whose outputs need
# them: Octet's VPMADDWD product and depthwise kernel for those, oneDNN for the rest), at batch 1
# and 32
# (RetinaFace from the corpus, 640x640, whose export fixes batch 1, when
# scripts/fixtures/fetch_corpus.sh has fetched it).
#   bench/run_exact_int8_avx2.sh [THREADS] [RUNS]        (defaults: nproc, 20)
# On a CPU with VNNI it caps the instruction set at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2, which Octet's
# kernels obey too), so that the AVX2 decisions are what runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OCTET_BUILD_DIR:-$root/build}
threads=${1:-$(nproc)}
runs=${2:-20}
export ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-AVX2}
"$root/scripts/build.sh" > /dev/null
cmake --build "$build" --target octet_float_bench octet_bench_quantize > /dev/null
models="$build/bench-models"
mkdir -p "$models"
if /usr/bin/python3 -c 'import torchvision' 2> /dev/null; then
  /usr/bin/python3 "$root/bench/export_torchvision.py" "$models" > /dev/null
fi
entries=("$root/tests/data/fashion_mnist/resnet_small.onnx:--fashion_mnist"
         "$root/tests/data/fashion_mnist/mobilenetv2_small.onnx:--fashion_mnist")
for name in resnet18 mobilenet_v2; do
  [ -f "$models/$name.onnx" ] && entries+=("$models/$name.onnx:")
done
retinaface="${OCTET_CORPUS_DIR:-$HOME/.cache/octet/corpus}/retinaface-0.0.6/package/mnet.25_v2.onnx"
[ -f "$retinaface" ] && entries+=("$retinaface:")
median() { "$build/bench/octet_float_bench" "$@" | sed -n 's/.*"median_ms": \([0-9.]*\).*/\1/p'; }

"$root/bench/provenance.sh" "bench/run_exact_int8_avx2.sh $threads $runs"
echo "$threads threads; median of $runs runs (the larger batch: a quarter of them), in ms."
echo
echo "| model | batch | float | int8, 7-bit weights | int8, 8-bit weights | int8, 7-bit, 8-bit pointwise | int8, 7-bit, 8-bit pointwise and depthwise | float / 7-bit | float / 8-bit | float / 7-bit with 8-bit pointwise | float / 7-bit with 8-bit pointwise and depthwise |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for entry in "${entries[@]}"; do
  IFS=: read -r model calibration <<< "$entry"
  name=$(basename "$model" .onnx)
  for bits in 7 8 7,8,7 7,8; do
    out="$models/$name.w$bits.qdq.onnx"
    [ -f "$out" ] || "$build/bench/octet_bench_quantize" "$model" "$out" "$bits" $calibration > /dev/null 2>&1
  done
  large=32
  [ "$name" = mnet.25_v2 ] && large=""  # its export fixes batch 1
  for batch in 1 $large; do
    n=$runs
    [ "$batch" != 1 ] && n=$((runs / 4 > 3 ? runs / 4 : 3))
    f=$(median "$model" "$batch" "$threads" "$n")
    w7=$(median "$models/$name.w7.qdq.onnx" "$batch" "$threads" "$n")
    w8=$(median "$models/$name.w8.qdq.onnx" "$batch" "$threads" "$n")
    pointwise=$(median "$models/$name.w7,8,7.qdq.onnx" "$batch" "$threads" "$n")
    both=$(median "$models/$name.w7,8.qdq.onnx" "$batch" "$threads" "$n")
    /usr/bin/python3 -c "import sys; f,a,b,c,d=map(float,sys.argv[4:]); print(f'| {sys.argv[1]} | {sys.argv[2]} | {f:.3f} | {a:.3f} | {b:.3f} | {c:.3f} | {d:.3f} | {f/a:.2f}x | {f/b:.2f}x | {f/c:.2f}x | {f/d:.2f}x |')" "$name" "$batch" x "$f" "$w7" "$w8" "$pointwise" "$both"
  done
done
