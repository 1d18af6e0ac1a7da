#!/usr/bin/env bash
# Octet at another commit against the working tree, in one script: for a change that must not
# move speed or artifacts (a refactor), or to measure one that should.
#   bench/compare_commits.sh BASE [THREADS] [RUNS]     (defaults: nproc, 7)
# Builds BASE in a worktree (build-compare/), then for each model (the Fashion-MNIST fixtures,
# and torchvision ResNet-18 and MobileNetV2 when build/bench-models holds their exports):
#  - quantizes it with both builds' default configuration (octet_bench_quantize, 8-bit weights)
#    and says whether the two QDQ models are the same bytes;
#  - times float and int8 (each build's own QDQ model) at batch 1 and 32 with octet_float_bench,
#    alternating the builds in OCTET_BENCH_ROUNDS rounds (default 3), and prints each build's
#    median of the rounds' medians and their ratio (above 1: the working tree is faster).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base=${1:?usage: bench/compare_commits.sh BASE [THREADS] [RUNS]}
threads=${2:-$(nproc)}
runs=${3:-7}
rounds=${OCTET_BENCH_ROUNDS:-3}
head_build=${OCTET_BUILD_DIR:-$root/build}
base_commit=$(git -C "$root" rev-parse --short "$base")
base_tree=$root/build-compare/src-$base_commit
base_build=$root/build-compare/build-$base_commit

[ -f "$head_build/build.ninja" ] || "$root/scripts/build.sh" > /dev/null
cmake --build "$head_build" --target octet_float_bench octet_bench_quantize > /dev/null
if [ ! -d "$base_tree" ]; then
  git -C "$root" worktree add --detach "$base_tree" "$base_commit" > /dev/null
fi
if [ ! -f "$base_build/build.ninja" ]; then
  cmake -S "$base_tree" -B "$base_build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
fi
cmake --build "$base_build" --target octet_float_bench octet_bench_quantize > /dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
models=("$root/tests/data/fashion_mnist/resnet_small.onnx:--fashion_mnist"
        "$root/tests/data/fashion_mnist/mobilenetv2_small.onnx:--fashion_mnist")
for name in resnet18 mobilenet_v2; do
  [ -f "$head_build/bench-models/$name.onnx" ] && models+=("$head_build/bench-models/$name.onnx:")
done

"$root/bench/provenance.sh" "OCTET_BENCH_ROUNDS=$rounds bench/compare_commits.sh $base $threads $runs"
echo "base: $base_commit; working tree: $(git -C "$root" rev-parse --short HEAD)"
echo
echo "Default-configuration artifacts:"
for entry in "${models[@]}"; do
  model=${entry%%:*}
  flag=${entry##*:}
  name=$(basename "$model" .onnx)
  for side in base head; do
    build=$base_build
    [ $side = head ] && build=$head_build
    "$build/bench/octet_bench_quantize" "$model" "$work/$name.$side.qdq.onnx" 8 $flag > /dev/null 2>&1
  done
  if cmp -s "$work/$name.base.qdq.onnx" "$work/$name.head.qdq.onnx"; then
    echo "  $name: same bytes ($(sha256sum < "$work/$name.head.qdq.onnx" | cut -c1-12))"
  else
    echo "  $name: DIFFERENT bytes"
  fi
done
echo

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for round in $(seq "$rounds"); do
  for entry in "${models[@]}"; do
    model=${entry%%:*}
    name=$(basename "$model" .onnx)
    for precision in float int8; do
      for batch in 1 32; do
        for side in base head; do
          build=$base_build
          [ $side = head ] && build=$head_build
          file=$model
          [ $precision = int8 ] && file=$work/$name.$side.qdq.onnx
          ms=$("$build/bench/octet_float_bench" "$file" "$batch" "$threads" "$runs" |
               sed -E 's/.*"median_ms": *([0-9.eE+-]+).*/\1/')
          echo "$ms" >> "$work/$name.$precision.$batch.$side"
        done
      done
    done
  done
done
printf 'median of %s rounds'"'"' medians of %s runs, %s threads, in ms\n' "$rounds" "$runs" "$threads"
printf '%-20s %-9s %5s %10s %10s %10s\n' model precision batch base tree base/tree
for entry in "${models[@]}"; do
  name=$(basename "${entry%%:*}" .onnx)
  for precision in float int8; do
    for batch in 1 32; do
      b=$(median < "$work/$name.$precision.$batch.base")
      h=$(median < "$work/$name.$precision.$batch.head")
      printf '%-20s %-9s %5s %10.3f %10.3f %10.2f\n' "$name" "$precision" "$batch" "$b" "$h" \
        "$(awk -v b="$b" -v h="$h" 'BEGIN {print b / h}')"
    done
  done
done
