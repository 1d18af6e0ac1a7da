#!/usr/bin/env bash
# Octet's exported QDQ models (default configuration) run in ONNX Runtime: agreement with Octet's
# own simulation of the same file, on 1,000 Fashion-MNIST test images per fixture model, once with
# ONNX Runtime executing the Q/DQ nodes as written ("as written") and once with its fused int8
# kernels ("fused int8"; on CPUs without AVX-512 VNNI these multiply u8 by s8 with VPMADDUBSW,
# whose int16 sums saturate: ONNX Runtime documents this and advises reduce_range there).
# Octet's side is its session as served: the int8 plan, with what it cannot lower exactly here
# simulated in float. WEIGHT_BITS (default 8): 7 makes every convolution run in int8 on CPUs
# without VNNI, in Octet and in ONNX Runtime alike.
#   bench/check_qdq_with_ort.sh [WEIGHT_BITS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OCTET_BUILD_DIR:-$root/build}
. "$root/bench/setup_peers.sh"
"$root/scripts/build.sh" > /dev/null
cmake --build "$build" --target octet_quantization_results > /dev/null
out="$build/qdq-check"
mkdir -p "$out"
"$build/bench/octet_quantization_results" --export "$out" --weight_bits "${1:-8}" \
  "$root/tests/data/fashion_mnist/resnet_small.onnx" "$root/tests/data/fashion_mnist/mobilenetv2_small.onnx" > /dev/null
for name in resnet_small mobilenetv2_small; do
  for mode in disabled all; do
    printf '%-18s %-11s ' "$name" "$([ $mode = disabled ] && echo 'as written' || echo 'fused int8')"
    OCTET_ORT_OPTIMIZATION=$mode node "$root/bench/ort_qdq_check.js" \
      "$out/$name.qdq.onnx" "$out/$name.inputs.npy" "$out/$name.octet.npy"
  done
done
